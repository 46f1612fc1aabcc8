/*! ccbridge console v1. These bytes never change once released: a change is console-v2.js. */
// The console's only script: a `button.copy[data-copy="ID"]` copies the value of the textarea
// `#ID` to the clipboard and says so in a live region next to the button. Without JavaScript the
// textarea stays selectable.
(() => {
  "use strict";

  const liveRegionFor = (button) => {
    let region = button.nextElementSibling;
    if (!region || !region.hasAttribute("data-copy-status")) {
      region = document.createElement("span");
      region.setAttribute("data-copy-status", "");
      region.className = "copy-status";
      region.setAttribute("role", "status");
      region.setAttribute("aria-live", "polite");
      button.insertAdjacentElement("afterend", region);
    }
    return region;
  };

  const copy = async (source) => {
    try {
      await navigator.clipboard.writeText(source.value);
      return true;
    } catch (_) {
      // No clipboard API (not a secure context, or permission refused): the old way.
      source.focus();
      source.select();
      try {
        return document.execCommand("copy");
      } catch (_) {
        return false;
      }
    }
  };

  const prepare = () => {
    document.querySelectorAll("button.copy[data-copy]").forEach(liveRegionFor);
  };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", prepare);
  } else {
    prepare();
  }

  document.addEventListener("click", async (event) => {
    const button = event.target.closest && event.target.closest("button.copy[data-copy]");
    if (!button) return;
    const source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) return;
    const region = liveRegionFor(button);
    region.textContent = "";
    const copied = await copy(source);
    region.textContent = copied ? "Copied" : "Press Ctrl+C (⌘C) to copy the selected text";
    if (!copied) {
      source.focus();
      source.select();
    }
  });
})();
