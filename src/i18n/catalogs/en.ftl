# ccbridge's visitor texts in English. Ids are language-neutral; every catalog has the same ids
# (a unit test holds them to this one). Operators override any of them per form and language
# with [forms.texts.en] (docs/languages.md).

## Around every visitor page

back-link = Back to { $site }

## The thank-you pages

thank-you-title = Thank you
thank-you-heading = Thank you for signing up!
thank-you-text = Your subscription has been received.
thank-you-double-title = Almost done: please check your mail
thank-you-double-text = We have sent you a mail with a link to confirm your subscription. Nothing is subscribed until you follow it.
thank-you-double-hint = No mail after a few minutes? Look in your spam folder, or sign up again later.

## GET /signup/{form} and unknown addresses

signup-page-title = Signup form
signup-page-heading = This address receives a signup form's entries
signup-page-text = A form on a website sends its signups here. There is nothing to see at this address: to sign up, please use the form on the website.
not-found-title = Not found
not-found-text = There is nothing at this address.

## A refused signup: the page's heading, then one message per kind

error-title = Signup not accepted
error-heading = Your signup was not accepted
error-hint-fix = Please go back, correct the form and send it again.
error-rate-limited = Too many signups came from your connection in a short time. Please wait { $minutes ->
        [one] a minute
       *[other] { $minutes } minutes
    } and try again.
error-unavailable = Your signup could not be saved just now, so it was not received. Please try again in a few moments.
error-origin-not-allowed = This form is not set up to accept signups from the page it is on. The website is misconfigured; there is nothing you can do about it. If you can, let the website's owner know.
error-unknown-form = This form sends its signups to an address that does not exist. The website is misconfigured; there is nothing you can do about it. If you can, let the website's owner know.
error-captcha-failed = The check that you are not a robot was not completed. Please go back, do the check again and send the form.
error-captcha-unavailable = The check that you are not a robot could not be verified just now, so your signup was not received. Please try again in a few minutes.
error-expired-timestamp = The page with the form was open for too long. Please reload the page and send the form again.
error-missing-field = { $field } is required.
error-invalid-email = This email address does not look right. Please check it for typing mistakes.
error-field-too-long = { $field } must be at most { $max } characters (it has { $got }).
error-invalid-characters = { $field } contains characters that cannot be used, such as line breaks.
error-unknown-list = The form offers a list that is not set up here. The website is misconfigured; there is nothing you can do about it.
error-unknown-field = The form sent a field ({ $field }) that is not set up here. The website is misconfigured; there is nothing you can do about it.
error-duplicate-field = The form sent { $field } more than once. The website is misconfigured; there is nothing you can do about it.
error-invalid-type = The form sent { $field } in a shape this address does not accept. The website is misconfigured; there is nothing you can do about it.
error-unexpected-file = The form sent a file ({ $field }), but this signup form takes text only. The website is misconfigured; there is nothing you can do about it.
error-malformed-body = The form's data could not be read. The website is misconfigured; there is nothing you can do about it.
error-unsupported-media-type = The form sent its data in a format this address does not accept. The website is misconfigured; there is nothing you can do about it.
error-payload-too-large = The form sent more data than this address accepts. The website is misconfigured; there is nothing you can do about it.

## Field labels in messages (a custom field: field-NAME, given in [forms.texts.xx])

field-email = Email address
field-first_name = First name
field-last_name = Last name
field-phone = Phone number
field-company = Company
field-job_title = Job title
field-list = List

## The confirmation link's pages (double opt-in)

confirm-title = Confirm your subscription
confirm-question = Subscribe this address to { $lists } from { $site }?
confirm-button = Confirm my subscription
confirm-ignore = If you did not ask for this, close this page: nothing happens.
confirmed-title = You're subscribed
confirmed-text = Thank you: your subscription to { $site } is confirmed.
already-confirmed-title = Already confirmed
already-confirmed-text = This subscription is already confirmed. There is nothing more to do.
link-expired-title = This link has expired
link-expired-text = Nothing was subscribed. To subscribe, please sign up again on the form.
link-unknown-title = This link is not known
link-unknown-text = It may have been replaced by a newer signup, or copied incompletely. Nothing was subscribed.
try-again-title = Please try again in a moment
try-again-text = The service could not look up this link just now. Nothing has changed.
too-many-requests-title = Too many requests
too-many-requests-text = Please wait a moment and try again.

## The confirmation mail (unless the form gives its own [forms.confirmation] texts)

mail-subject = Please confirm your subscription to { $site }
mail-greeting = Hello,
mail-request = Someone (we hope you) asked to subscribe this address to { $lists } from { $site }.
mail-open-link = To confirm, open this link and press the button on the page:
mail-button = Confirm my subscription
mail-copy-link = Or copy this link into your browser:
mail-expiry = The link works until { $expires }. If you did not ask for this, ignore this mail: nothing happens and you will not hear from us again.
mail-default-lists = our mailing list
list-and = { $rest } and { $last }
date-time = { $day } { $month } { $year }, { $time } UTC
month-1 = January
month-2 = February
month-3 = March
month-4 = April
month-5 = May
month-6 = June
month-7 = July
month-8 = August
month-9 = September
month-10 = October
month-11 = November
month-12 = December
