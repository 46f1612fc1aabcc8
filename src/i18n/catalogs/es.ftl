# ccbridge's visitor texts in Spanish (same ids as en.ftl).

## Around every visitor page

back-link = Volver a { $site }

## The thank-you pages

thank-you-title = Gracias
thank-you-heading = ¡Gracias por suscribirse!
thank-you-text = Hemos recibido su suscripción.
thank-you-double-title = Casi listo: revise su correo
thank-you-double-text = Le hemos enviado un correo con un enlace para confirmar su suscripción. No quedará suscrito hasta que lo abra.
thank-you-double-hint = ¿No ha llegado ningún correo después de unos minutos? Mire en la carpeta de spam o vuelva a suscribirse más tarde.

## GET /signup/{form} and unknown addresses

signup-page-title = Formulario de suscripción
signup-page-heading = Esta dirección recibe las suscripciones de un formulario
signup-page-text = Un formulario de un sitio web envía aquí sus suscripciones. En esta dirección no hay nada que ver: para suscribirse, use el formulario del sitio web.
not-found-title = No encontrado
not-found-text = No hay nada en esta dirección.

## A refused signup

error-title = Suscripción no aceptada
error-heading = Su suscripción no ha sido aceptada
error-hint-fix = Vuelva atrás, corrija el formulario y envíelo de nuevo.
error-rate-limited = Han llegado demasiadas suscripciones desde su conexión en poco tiempo. Espere { $minutes ->
        [one] un minuto
       *[other] { $minutes } minutos
    } y vuelva a intentarlo.
error-unavailable = No se ha podido guardar su suscripción en este momento, así que no se ha recibido. Vuelva a intentarlo dentro de unos instantes.
error-origin-not-allowed = Este formulario no está configurado para aceptar suscripciones desde la página en la que está. El sitio web está mal configurado; usted no puede hacer nada al respecto. Si puede, avise al responsable del sitio.
error-unknown-form = Este formulario envía sus suscripciones a una dirección que no existe. El sitio web está mal configurado; usted no puede hacer nada al respecto. Si puede, avise al responsable del sitio.
error-captcha-failed = La comprobación de que no es un robot no se ha completado. Vuelva atrás, repita la comprobación y envíe el formulario.
error-captcha-unavailable = No se ha podido verificar en este momento la comprobación de que no es un robot, así que su suscripción no se ha recibido. Vuelva a intentarlo dentro de unos minutos.
error-expired-timestamp = La página del formulario ha estado abierta demasiado tiempo. Vuelva a cargar la página y envíe el formulario de nuevo.
error-missing-field = El campo { $field } es obligatorio.
error-invalid-email = Esta dirección de correo no parece correcta. Compruebe que no tenga errores de escritura.
error-field-too-long = El campo { $field } debe tener como máximo { $max } caracteres (tiene { $got }).
error-invalid-characters = El campo { $field } contiene caracteres que no se pueden usar, como saltos de línea.
error-unknown-list = El formulario ofrece una lista que no está configurada aquí. El sitio web está mal configurado; usted no puede hacer nada al respecto.
error-unknown-field = El formulario ha enviado un campo ({ $field }) que no está configurado aquí. El sitio web está mal configurado; usted no puede hacer nada al respecto.
error-duplicate-field = El formulario ha enviado { $field } más de una vez. El sitio web está mal configurado; usted no puede hacer nada al respecto.
error-invalid-type = El formulario ha enviado { $field } de una forma que esta dirección no acepta. El sitio web está mal configurado; usted no puede hacer nada al respecto.
error-unexpected-file = El formulario ha enviado un archivo ({ $field }), pero este formulario de suscripción solo admite texto. El sitio web está mal configurado; usted no puede hacer nada al respecto.
error-malformed-body = No se han podido leer los datos del formulario. El sitio web está mal configurado; usted no puede hacer nada al respecto.
error-unsupported-media-type = El formulario ha enviado sus datos en un formato que esta dirección no acepta. El sitio web está mal configurado; usted no puede hacer nada al respecto.
error-payload-too-large = El formulario ha enviado más datos de los que acepta esta dirección. El sitio web está mal configurado; usted no puede hacer nada al respecto.

## Field labels

field-email = Correo electrónico
field-first_name = Nombre
field-last_name = Apellidos
field-phone = Teléfono
field-company = Empresa
field-job_title = Cargo
field-list = Lista

## The confirmation link's pages

confirm-title = Confirme su suscripción
confirm-question = ¿Suscribir esta dirección a { $lists } de { $site }?
confirm-button = Confirmar mi suscripción
confirm-ignore = Si no lo ha solicitado, cierre esta página: no pasará nada.
confirmed-title = Ya está suscrito
confirmed-text = Gracias: su suscripción a { $site } está confirmada.
already-confirmed-title = Ya confirmada
already-confirmed-text = Esta suscripción ya está confirmada. No hay nada más que hacer.
link-expired-title = Este enlace ha caducado
link-expired-text = No se ha suscrito nada. Para suscribirse, vuelva a rellenar el formulario.
link-unknown-title = Este enlace no es conocido
link-unknown-text = Puede que lo haya sustituido una suscripción más reciente o que se haya copiado de forma incompleta. No se ha suscrito nada.
try-again-title = Vuelva a intentarlo en un momento
try-again-text = El servicio no ha podido comprobar este enlace en este momento. No ha cambiado nada.
too-many-requests-title = Demasiadas solicitudes
too-many-requests-text = Espere un momento y vuelva a intentarlo.

## The confirmation mail

mail-subject = Confirme su suscripción a { $site }
mail-greeting = Hola:
mail-request = Alguien (esperamos que usted) ha pedido suscribir esta dirección a { $lists } de { $site }.
mail-open-link = Para confirmarlo, abra este enlace y pulse el botón de la página:
mail-button = Confirmar mi suscripción
mail-copy-link = O copie este enlace en su navegador:
mail-expiry = El enlace funciona hasta el { $expires }. Si no lo ha solicitado, ignore este correo: no pasará nada y no volverá a saber de nosotros.
mail-default-lists = nuestra lista de correo
list-and = { $rest } y { $last }
date-time = { $day } de { $month } de { $year }, { $time } UTC
month-1 = enero
month-2 = febrero
month-3 = marzo
month-4 = abril
month-5 = mayo
month-6 = junio
month-7 = julio
month-8 = agosto
month-9 = septiembre
month-10 = octubre
month-11 = noviembre
month-12 = diciembre
