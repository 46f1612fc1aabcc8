# ccbridge's visitor texts in German (same ids as en.ftl).

## Around every visitor page

back-link = Zurück zu { $site }

## The thank-you pages

thank-you-title = Vielen Dank
thank-you-heading = Vielen Dank für Ihre Anmeldung!
thank-you-text = Ihre Anmeldung ist bei uns eingegangen.
thank-you-double-title = Fast geschafft: Bitte sehen Sie in Ihr Postfach
thank-you-double-text = Wir haben Ihnen eine E-Mail mit einem Link geschickt, mit dem Sie Ihre Anmeldung bestätigen. Erst danach sind Sie angemeldet.
thank-you-double-hint = Nach einigen Minuten noch keine E-Mail? Sehen Sie im Spam-Ordner nach oder melden Sie sich später erneut an.

## GET /signup/{form} and unknown addresses

signup-page-title = Anmeldeformular
signup-page-heading = An diese Adresse sendet ein Anmeldeformular seine Eingaben
signup-page-text = Ein Formular auf einer Website schickt seine Anmeldungen hierher. Unter dieser Adresse gibt es nichts zu sehen: Um sich anzumelden, nutzen Sie bitte das Formular auf der Website.
not-found-title = Nicht gefunden
not-found-text = Unter dieser Adresse gibt es nichts.

## A refused signup

error-title = Anmeldung nicht angenommen
error-heading = Ihre Anmeldung wurde nicht angenommen
error-hint-fix = Bitte gehen Sie zurück, korrigieren Sie das Formular und senden Sie es erneut.
error-rate-limited = Von Ihrer Verbindung kamen in kurzer Zeit zu viele Anmeldungen. Bitte warten Sie { $minutes ->
        [one] eine Minute
       *[other] { $minutes } Minuten
    } und versuchen Sie es dann erneut.
error-unavailable = Ihre Anmeldung konnte gerade nicht gespeichert werden und ist daher nicht eingegangen. Bitte versuchen Sie es in wenigen Augenblicken erneut.
error-origin-not-allowed = Dieses Formular ist nicht dafür eingerichtet, Anmeldungen von der Seite anzunehmen, auf der es steht. Die Website ist falsch eingerichtet; Sie können daran nichts ändern. Wenn möglich, sagen Sie bitte dem Betreiber der Website Bescheid.
error-unknown-form = Dieses Formular schickt seine Anmeldungen an eine Adresse, die es nicht gibt. Die Website ist falsch eingerichtet; Sie können daran nichts ändern. Wenn möglich, sagen Sie bitte dem Betreiber der Website Bescheid.
error-captcha-failed = Die Prüfung, dass Sie kein Roboter sind, wurde nicht abgeschlossen. Bitte gehen Sie zurück, wiederholen Sie die Prüfung und senden Sie das Formular erneut.
error-captcha-unavailable = Die Prüfung, dass Sie kein Roboter sind, konnte gerade nicht bestätigt werden, daher ist Ihre Anmeldung nicht eingegangen. Bitte versuchen Sie es in einigen Minuten erneut.
error-expired-timestamp = Die Seite mit dem Formular war zu lange geöffnet. Bitte laden Sie die Seite neu und senden Sie das Formular erneut.
error-missing-field = { $field } ist ein Pflichtfeld.
error-invalid-email = Diese E-Mail-Adresse scheint nicht zu stimmen. Bitte prüfen Sie sie auf Tippfehler.
error-field-too-long = { $field } darf höchstens { $max } Zeichen lang sein (eingegeben: { $got }).
error-invalid-characters = { $field } enthält Zeichen, die nicht verwendet werden können, etwa Zeilenumbrüche.
error-unknown-list = Das Formular bietet eine Liste an, die hier nicht eingerichtet ist. Die Website ist falsch eingerichtet; Sie können daran nichts ändern.
error-unknown-field = Das Formular hat ein Feld ({ $field }) gesendet, das hier nicht eingerichtet ist. Die Website ist falsch eingerichtet; Sie können daran nichts ändern.
error-duplicate-field = Das Formular hat { $field } mehrfach gesendet. Die Website ist falsch eingerichtet; Sie können daran nichts ändern.
error-invalid-type = Das Formular hat { $field } in einer Form gesendet, die diese Adresse nicht annimmt. Die Website ist falsch eingerichtet; Sie können daran nichts ändern.
error-unexpected-file = Das Formular hat eine Datei ({ $field }) gesendet, dieses Anmeldeformular nimmt aber nur Text an. Die Website ist falsch eingerichtet; Sie können daran nichts ändern.
error-malformed-body = Die Daten des Formulars konnten nicht gelesen werden. Die Website ist falsch eingerichtet; Sie können daran nichts ändern.
error-unsupported-media-type = Das Formular hat seine Daten in einem Format gesendet, das diese Adresse nicht annimmt. Die Website ist falsch eingerichtet; Sie können daran nichts ändern.
error-payload-too-large = Das Formular hat mehr Daten gesendet, als diese Adresse annimmt. Die Website ist falsch eingerichtet; Sie können daran nichts ändern.

## Field labels

field-email = E-Mail-Adresse
field-first_name = Vorname
field-last_name = Nachname
field-phone = Telefonnummer
field-company = Firma
field-job_title = Position
field-list = Liste

## The confirmation link's pages

confirm-title = Anmeldung bestätigen
confirm-question = Diese Adresse für { $lists } von { $site } anmelden?
confirm-button = Meine Anmeldung bestätigen
confirm-ignore = Wenn Sie das nicht angefordert haben, schließen Sie diese Seite: Es passiert nichts.
confirmed-title = Sie sind angemeldet
confirmed-text = Vielen Dank: Ihre Anmeldung bei { $site } ist bestätigt.
already-confirmed-title = Bereits bestätigt
already-confirmed-text = Diese Anmeldung ist bereits bestätigt. Es ist nichts weiter zu tun.
link-expired-title = Dieser Link ist abgelaufen
link-expired-text = Es wurde nichts angemeldet. Um sich anzumelden, füllen Sie bitte das Formular erneut aus.
link-unknown-title = Dieser Link ist unbekannt
link-unknown-text = Vielleicht wurde er durch eine neuere Anmeldung ersetzt oder unvollständig kopiert. Es wurde nichts angemeldet.
try-again-title = Bitte versuchen Sie es gleich noch einmal
try-again-text = Der Dienst konnte diesen Link gerade nicht nachschlagen. Es hat sich nichts geändert.
too-many-requests-title = Zu viele Anfragen
too-many-requests-text = Bitte warten Sie einen Moment und versuchen Sie es dann erneut.

## The confirmation mail

mail-subject = Bitte bestätigen Sie Ihre Anmeldung bei { $site }
mail-greeting = Hallo,
mail-request = Jemand (hoffentlich Sie) hat diese Adresse für { $lists } von { $site } angemeldet.
mail-open-link = Zum Bestätigen öffnen Sie diesen Link und drücken Sie die Schaltfläche auf der Seite:
mail-button = Meine Anmeldung bestätigen
mail-copy-link = Oder kopieren Sie diesen Link in Ihren Browser:
mail-expiry = Der Link funktioniert bis { $expires }. Wenn Sie das nicht angefordert haben, ignorieren Sie diese E-Mail: Es passiert nichts, und Sie hören nicht wieder von uns.
mail-default-lists = unseren Newsletter
list-and = { $rest } und { $last }
date-time = { $day }. { $month } { $year }, { $time } UTC
month-1 = Januar
month-2 = Februar
month-3 = März
month-4 = April
month-5 = Mai
month-6 = Juni
month-7 = Juli
month-8 = August
month-9 = September
month-10 = Oktober
month-11 = November
month-12 = Dezember
