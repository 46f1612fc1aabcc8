# ccbridge's visitor texts in French (same ids as en.ftl).

## Around every visitor page

back-link = Retour à { $site }

## The thank-you pages

thank-you-title = Merci
thank-you-heading = Merci pour votre inscription !
thank-you-text = Votre inscription a bien été reçue.
thank-you-double-title = Presque terminé : veuillez consulter votre messagerie
thank-you-double-text = Nous vous avons envoyé un e-mail avec un lien pour confirmer votre inscription. Rien n'est enregistré tant que vous ne l'avez pas suivi.
thank-you-double-hint = Pas d'e-mail après quelques minutes ? Regardez dans vos courriers indésirables, ou inscrivez-vous à nouveau plus tard.

## GET /signup/{form} and unknown addresses

signup-page-title = Formulaire d'inscription
signup-page-heading = Cette adresse reçoit les inscriptions d'un formulaire
signup-page-text = Un formulaire sur un site web envoie ses inscriptions ici. Il n'y a rien à voir à cette adresse : pour vous inscrire, veuillez utiliser le formulaire du site.
not-found-title = Introuvable
not-found-text = Il n'y a rien à cette adresse.

## A refused signup

error-title = Inscription non acceptée
error-heading = Votre inscription n'a pas été acceptée
error-hint-fix = Veuillez revenir en arrière, corriger le formulaire et l'envoyer à nouveau.
error-rate-limited = Trop d'inscriptions sont venues de votre connexion en peu de temps. Veuillez patienter { $minutes ->
        [one] une minute
       *[other] { $minutes } minutes
    } puis réessayer.
error-unavailable = Votre inscription n'a pas pu être enregistrée pour le moment, elle n'a donc pas été reçue. Veuillez réessayer dans quelques instants.
error-origin-not-allowed = Ce formulaire n'est pas configuré pour accepter les inscriptions depuis la page où il se trouve. Le site est mal configuré ; vous ne pouvez rien y faire. Si possible, prévenez le responsable du site.
error-unknown-form = Ce formulaire envoie ses inscriptions à une adresse qui n'existe pas. Le site est mal configuré ; vous ne pouvez rien y faire. Si possible, prévenez le responsable du site.
error-captcha-failed = La vérification que vous n'êtes pas un robot n'a pas abouti. Veuillez revenir en arrière, refaire la vérification et envoyer le formulaire.
error-captcha-unavailable = La vérification que vous n'êtes pas un robot n'a pas pu être confirmée pour le moment, votre inscription n'a donc pas été reçue. Veuillez réessayer dans quelques minutes.
error-expired-timestamp = La page du formulaire est restée ouverte trop longtemps. Veuillez recharger la page et envoyer le formulaire à nouveau.
error-missing-field = Le champ { $field } est obligatoire.
error-invalid-email = Cette adresse e-mail ne semble pas correcte. Veuillez vérifier qu'elle ne contient pas de faute de frappe.
error-field-too-long = Le champ { $field } doit comporter au plus { $max } caractères (il en a { $got }).
error-invalid-characters = Le champ { $field } contient des caractères qui ne peuvent pas être utilisés, comme des retours à la ligne.
error-unknown-list = Le formulaire propose une liste qui n'est pas configurée ici. Le site est mal configuré ; vous ne pouvez rien y faire.
error-unknown-field = Le formulaire a envoyé un champ ({ $field }) qui n'est pas configuré ici. Le site est mal configuré ; vous ne pouvez rien y faire.
error-duplicate-field = Le formulaire a envoyé { $field } plusieurs fois. Le site est mal configuré ; vous ne pouvez rien y faire.
error-invalid-type = Le formulaire a envoyé { $field } sous une forme que cette adresse n'accepte pas. Le site est mal configuré ; vous ne pouvez rien y faire.
error-unexpected-file = Le formulaire a envoyé un fichier ({ $field }), mais ce formulaire d'inscription n'accepte que du texte. Le site est mal configuré ; vous ne pouvez rien y faire.
error-malformed-body = Les données du formulaire n'ont pas pu être lues. Le site est mal configuré ; vous ne pouvez rien y faire.
error-unsupported-media-type = Le formulaire a envoyé ses données dans un format que cette adresse n'accepte pas. Le site est mal configuré ; vous ne pouvez rien y faire.
error-payload-too-large = Le formulaire a envoyé plus de données que cette adresse n'en accepte. Le site est mal configuré ; vous ne pouvez rien y faire.

## Field labels

field-email = Adresse e-mail
field-first_name = Prénom
field-last_name = Nom
field-phone = Numéro de téléphone
field-company = Entreprise
field-job_title = Fonction
field-list = Liste

## The confirmation link's pages

confirm-title = Confirmez votre inscription
confirm-question = Inscrire cette adresse à { $lists } de { $site } ?
confirm-button = Confirmer mon inscription
confirm-ignore = Si vous n'avez rien demandé, fermez cette page : il ne se passera rien.
confirmed-title = Vous êtes inscrit
confirmed-text = Merci : votre inscription à { $site } est confirmée.
already-confirmed-title = Déjà confirmée
already-confirmed-text = Cette inscription est déjà confirmée. Il n'y a plus rien à faire.
link-expired-title = Ce lien a expiré
link-expired-text = Rien n'a été enregistré. Pour vous inscrire, veuillez remplir à nouveau le formulaire.
link-unknown-title = Ce lien est inconnu
link-unknown-text = Il a peut-être été remplacé par une inscription plus récente, ou copié de façon incomplète. Rien n'a été enregistré.
try-again-title = Veuillez réessayer dans un instant
try-again-text = Le service n'a pas pu vérifier ce lien pour le moment. Rien n'a changé.
too-many-requests-title = Trop de requêtes
too-many-requests-text = Veuillez patienter un instant puis réessayer.

## The confirmation mail

mail-subject = Veuillez confirmer votre inscription à { $site }
mail-greeting = Bonjour,
mail-request = Quelqu'un (vous, nous l'espérons) a demandé à inscrire cette adresse à { $lists } de { $site }.
mail-open-link = Pour confirmer, ouvrez ce lien et appuyez sur le bouton de la page :
mail-button = Confirmer mon inscription
mail-copy-link = Ou copiez ce lien dans votre navigateur :
mail-expiry = Le lien est valable jusqu'au { $expires }. Si vous n'avez rien demandé, ignorez cet e-mail : il ne se passera rien et vous n'entendrez plus parler de nous.
mail-default-lists = notre liste de diffusion
list-and = { $rest } et { $last }
date-time = { $day } { $month } { $year } à { $time } UTC
month-1 = janvier
month-2 = février
month-3 = mars
month-4 = avril
month-5 = mai
month-6 = juin
month-7 = juillet
month-8 = août
month-9 = septembre
month-10 = octobre
month-11 = novembre
month-12 = décembre
