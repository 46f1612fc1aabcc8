/*! ccbridge embed v1. These bytes never change once released: a change is /embed/v2.js. */
// Upgrades signup forms that post to ccbridge: they send with fetch(), show each error next to
// its field (aria-invalid, aria-describedby), announce progress in a live region and show the
// success in place. Without JavaScript the same forms post as plain HTML forms. See docs/forms.md.
(() => {
  "use strict";

  const TEXTS = {
    en: {
      sending: "Sending…",
      success: "Thank you for signing up!",
      confirm: "Almost done: please check your mail and follow the link in it to confirm.",
      networkError: "Your signup could not be sent. Please check your connection and try again.",
      error: "Something went wrong. Please try again."
    },
    de: {
      sending: "Wird gesendet…",
      success: "Vielen Dank für Ihre Anmeldung!",
      confirm: "Fast geschafft: Bitte sehen Sie in Ihr Postfach und bestätigen Sie über den Link in der E-Mail.",
      networkError: "Ihre Anmeldung konnte nicht gesendet werden. Bitte prüfen Sie Ihre Verbindung und versuchen Sie es erneut.",
      error: "Etwas ist schiefgegangen. Bitte versuchen Sie es erneut."
    },
    fr: {
      sending: "Envoi en cours…",
      success: "Merci pour votre inscription !",
      confirm: "Presque terminé : consultez votre messagerie et suivez le lien reçu pour confirmer.",
      networkError: "Votre inscription n’a pas pu être envoyée. Vérifiez votre connexion et réessayez.",
      error: "Une erreur est survenue. Veuillez réessayer."
    },
    es: {
      sending: "Enviando…",
      success: "¡Gracias por suscribirse!",
      confirm: "Casi listo: revise su correo y siga el enlace que contiene para confirmar.",
      networkError: "No se pudo enviar su suscripción. Compruebe su conexión e inténtelo de nuevo.",
      error: "Algo salió mal. Inténtelo de nuevo."
    }
  };
  // The form's data- attribute that overrides each text (data-ccbridge-sending="…").
  const OVERRIDES = {
    sending: "ccbridgeSending",
    success: "ccbridgeSuccess",
    confirm: "ccbridgeConfirm",
    networkError: "ccbridgeNetworkError",
    error: "ccbridgeError"
  };
  const TIMESTAMP_FIELD = "_ts";

  // Where ccbridge is: the origin and path prefix this script was loaded from.
  const script = document.currentScript ||
    document.querySelector('script[src$="/embed/v1.js"]');
  const base = script && script.src
    ? script.src.replace(/\/embed\/v1\.js(?:[?#].*)?$/, "")
    : location.origin;
  const upgraded = new WeakSet();
  let forms = 0;

  const actionOf = (form) => {
    try {
      return new URL(form.getAttribute("action") || "", document.baseURI).href;
    } catch (_) {
      return "";
    }
  };

  // `data-ccbridge` opts a form in, `data-ccbridge="off"` out; otherwise a form is upgraded when
  // it posts to /signup/… of the ccbridge this script came from.
  const wanted = (form) => {
    const flag = form.getAttribute("data-ccbridge");
    if (flag === "off") return false;
    if (flag !== null) return true;
    return actionOf(form).indexOf(base + "/signup/") === 0 &&
      (form.getAttribute("method") || "").toLowerCase() === "post";
  };

  // The form's language: its own or its nearest ancestor's `lang` ("" when none says).
  const langOf = (form) => {
    const holder = form.closest("[lang]");
    return ((holder && holder.getAttribute("lang")) || "").trim();
  };

  const textsFor = (form) => {
    const tag = langOf(form).toLowerCase().split("-")[0];
    const texts = Object.assign({}, TEXTS[tag] || TEXTS.en);
    Object.keys(OVERRIDES).forEach((key) => {
      const own = form.dataset[OVERRIDES[key]];
      if (own) texts[key] = own;
    });
    return texts;
  };

  const statusOf = (form) => {
    let status = form.querySelector("[data-ccbridge-status]");
    if (!status) {
      status = document.createElement("p");
      status.setAttribute("data-ccbridge-status", "");
      status.className = "ccbridge-status";
      form.appendChild(status);
    }
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    return status;
  };

  const buttonsOf = (form) => Array.prototype.filter.call(
    form.querySelectorAll("button, input[type=submit], input[type=image]"),
    (b) => b.tagName !== "BUTTON" || (b.getAttribute("type") || "submit").toLowerCase() === "submit"
  );

  // The visible control a field's error belongs to (the first of a group of checkboxes).
  const controlFor = (form, name) => {
    let control = form.elements.namedItem(name);
    if (control && !control.tagName && control.length) control = control[0];
    if (!control || !control.tagName || control.type === "hidden") return null;
    return control;
  };

  const clearErrors = (form) => {
    const ids = Array.prototype.map.call(form.querySelectorAll("[data-ccbridge-error]"), (note) => {
      note.remove();
      return note.id;
    });
    if (!ids.length) return;
    form.querySelectorAll("[aria-describedby]").forEach((control) => {
      const before = control.getAttribute("aria-describedby").split(/\s+/).filter(Boolean);
      const kept = before.filter((id) => ids.indexOf(id) < 0);
      if (kept.length === before.length) return;
      if (kept.length) control.setAttribute("aria-describedby", kept.join(" "));
      else control.removeAttribute("aria-describedby");
      control.removeAttribute("aria-invalid");
    });
  };

  const showError = (form, key, error, texts, status) => {
    const message = (error && error.message) || texts.error;
    status.textContent = message;
    const control = error && error.field && controlFor(form, error.field);
    if (!control) return;
    // A span: valid wherever the label is (often inside a <p>); a site may display it as a block.
    const note = document.createElement("span");
    note.id = key + "-" + String(error.field).replace(/[^A-Za-z0-9_-]/g, "_") + "-error";
    note.className = "ccbridge-error";
    note.setAttribute("data-ccbridge-error", "");
    note.textContent = message;
    (control.closest("label") || control).insertAdjacentElement("afterend", note);
    const described = control.getAttribute("aria-describedby");
    control.setAttribute("aria-describedby", described ? described + " " + note.id : note.id);
    control.setAttribute("aria-invalid", "true");
    control.focus();
  };

  const showSuccess = (form, answer, texts, status) => {
    form.reset();
    Array.prototype.forEach.call(form.children, (child) => {
      if (!child.contains(status)) child.hidden = true;
    });
    // The script's own words when the page set them; else ccbridge's (the form's language and
    // the operator's texts); else the script's defaults.
    const own = form.dataset[OVERRIDES[answer && answer.confirmation === "mail" ? "confirm" : "success"]];
    const fallback = answer && answer.confirmation === "mail" ? texts.confirm : texts.success;
    status.textContent = own || (answer && answer.message) || fallback;
    status.setAttribute("tabindex", "-1");
    status.focus();
  };

  const readJson = async (response) => {
    try {
      return await response.json();
    } catch (_) {
      return null;
    }
  };

  const upgrade = (form) => {
    if (upgraded.has(form) || !wanted(form)) return;
    upgraded.add(form);
    forms += 1;
    const key = form.id || "ccbridge-form-" + forms;
    const status = statusOf(form);
    const action = actionOf(form);

    // A form with min_submit_time carries a signed "shown at" value in its hidden _ts field.
    const stamp = form.querySelector('input[name="' + TIMESTAMP_FIELD + '"]');
    let shown = null;
    const tokenUrl = (() => {
      const url = new URL(action);
      url.pathname += "/token";
      url.search = "";
      return url.href;
    })();
    const renewStamp = async (wait) => {
      shown = null;
      const response = await fetch(tokenUrl, { credentials: "omit" });
      const token = response.ok ? await response.json() : null;
      if (!token || typeof token.value !== "string" || typeof token.max_age_ms !== "number") {
        throw new Error("no form timestamp");
      }
      stamp.value = token.value;
      shown = { at: Date.now(), maxAge: token.max_age_ms, min: token.min_submit_time_ms || 0 };
      if (wait) await new Promise((done) => setTimeout(done, shown.min));
    };
    if (stamp) renewStamp(false).catch(() => {});

    // The page's language goes along, so ccbridge's messages match the script's own words.
    const headers = { Accept: "application/json" };
    if (/^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$/.test(langOf(form))) {
      headers["Accept-Language"] = langOf(form);
    }
    const post = () => fetch(action, {
      method: "POST",
      headers,
      body: new FormData(form),
      credentials: "omit"
    });

    let busy = false;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (busy) return;
      busy = true;
      const texts = textsFor(form);
      const buttons = buttonsOf(form).filter((b) => !b.disabled);
      buttons.forEach((b) => { b.disabled = true; });
      form.setAttribute("aria-busy", "true");
      clearErrors(form);
      status.textContent = texts.sending;
      let response = null;
      let answer = null;
      try {
        if (stamp && (!shown || Date.now() - shown.at > shown.maxAge - 60000)) await renewStamp(true);
        response = await post();
        answer = await readJson(response);
        if (stamp && answer && answer.error && answer.error.code === "expired_timestamp") {
          await renewStamp(true);
          response = await post();
          answer = await readJson(response);
        }
      } catch (_) {
        response = null;
      }
      busy = false;
      form.removeAttribute("aria-busy");
      buttons.forEach((b) => { b.disabled = false; });
      if (!response) {
        status.textContent = texts.networkError;
      } else if (response.ok) {
        showSuccess(form, answer, texts, status);
      } else {
        showError(form, key, answer && answer.error, texts, status);
      }
    });
  };

  const upgradeAll = () => {
    Array.prototype.forEach.call(document.forms, upgrade);
  };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", upgradeAll);
  } else {
    upgradeAll();
  }
})();
