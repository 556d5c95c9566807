// htmx event glue only: loading bar, error toast, copy buttons, and the persona editor's focus, draft
// warning and preview drawer. Behaviour lives on the server.
(function () {
  "use strict";
  let pending = 0;
  const bar = () => document.getElementById("loading-bar");
  function setLoading(delta) {
    pending = Math.max(0, pending + delta);
    const el = bar();
    if (el) el.classList.toggle("active", pending > 0);
    document.body.toggleAttribute("aria-busy", pending > 0);
  }
  function toast(text) {
    const el = document.getElementById("toast");
    if (!el) return;
    el.textContent = text;
    el.hidden = false;
    clearTimeout(el._timer);
    el._timer = setTimeout(() => { el.hidden = true; }, 8000);
  }
  document.addEventListener("htmx:beforeRequest", () => setLoading(1));
  document.addEventListener("htmx:afterRequest", () => setLoading(-1));
  document.addEventListener("htmx:responseError", (event) => {
    const status = event.detail.xhr.status;
    const words = {
      403: "You are not allowed to do that in this workspace.",
      404: "That page or persona no longer exists.",
      413: "That was too large to send. Nothing was saved; your input is still on the page.",
      500: "Something went wrong on our side. Your input is still on the page.",
    };
    toast(words[status] || "The request failed (" + status + "). Your input is still on the page.");
  });
  document.addEventListener("htmx:sendError", () => {
    toast("The dashboard could not be reached. Check your connection; your input is still on the page.");
  });
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-copy-target]");
    if (!button) return;
    const source = document.getElementById(button.dataset.copyTarget);
    if (!source || !navigator.clipboard) return;
    navigator.clipboard.writeText(source.textContent).then(() => {
      const label = button.textContent;
      button.textContent = "Copied";
      setTimeout(() => { button.textContent = label; }, 1500);
    });
  });

  // -- Persona editor ------------------------------------------------------------------------
  const editor = () => document.getElementById("editor");
  const inEditor = (el) => el instanceof Element && (el.closest("#editor") || el.form === editor());

  // A draft is not lost by a reload or the back button: warn while the form holds unsaved work
  // (typed, or rows added/removed; the server marks a page shown again with the user's input).
  let dirty = false;
  let submitting = false;
  document.addEventListener("input", (event) => { if (inEditor(event.target)) dirty = true; });
  document.addEventListener("change", (event) => { if (inEditor(event.target)) dirty = true; });
  document.addEventListener("htmx:beforeRequest", (event) => {
    const elt = event.detail.elt;
    if (elt instanceof Element && elt.name === "editor_action" && inEditor(elt)) dirty = true;
  });
  document.addEventListener("submit", (event) => { if (event.target === editor()) submitting = true; });
  window.addEventListener("pageshow", () => { submitting = false; });
  window.addEventListener("beforeunload", (event) => {
    const form = editor();
    if (!form || submitting || !(dirty || form.hasAttribute("data-dirty"))) return;
    event.preventDefault();
    event.returnValue = "";
  });

  // A field's message slot is refreshed by the live preview: mark its control (and its
  // wrapper) invalid exactly while the slot holds a message. The slot's id is "err-" + the
  // control's id (a parameter row's control is its name box).
  function syncErrorSlots() {
    document.querySelectorAll("#editor .field-errors").forEach((slot) => {
      const wrong = slot.querySelector("li") !== null;
      const id = slot.id.slice(4);
      let control = document.getElementById(id);
      if (control && !control.matches("input, select, textarea")) control = document.getElementById(id + "-name");
      if (control && control.matches("input, select, textarea")) {
        if (wrong) control.setAttribute("aria-invalid", "true");
        else control.removeAttribute("aria-invalid");
      }
      const wrapper = slot.parentElement;
      if (wrapper && wrapper.classList.contains("field")) wrapper.classList.toggle("field-error", wrong);
    });
  }
  document.addEventListener("htmx:afterSettle", (event) => {
    if (event.detail.target && event.detail.target.id === "preview") syncErrorSlots();
  });
  // The preview sends back only the slots that hold a message, and those that held one here (so
  // it can empty them): a large persona has hundreds of slots.
  document.addEventListener("htmx:configRequest", (event) => {
    if (!event.detail.target || event.detail.target.id !== "preview") return;
    const shown = [];
    document.querySelectorAll("#editor .field-errors").forEach((slot) => {
      if (slot.firstChild) shown.push(slot.id);
    });
    event.detail.parameters["error_slots_shown"] = shown.join(" ");
  });

  // A removed row takes the focus with it: give it to the next sensible control. (Its button is
  // gone by then, so it is remembered when the request starts.)
  let fallback = "";
  document.addEventListener("htmx:beforeRequest", (event) => {
    const elt = event.detail.elt;
    if (elt instanceof HTMLElement && elt.dataset.focusFallback) fallback = elt.dataset.focusFallback;
  });
  document.addEventListener("htmx:afterRequest", () => {
    if (!fallback) return;
    const id = fallback;
    fallback = "";
    if (document.activeElement && document.activeElement !== document.body) return;
    const next = document.getElementById(id);
    if (next) next.focus();
  });

  // The preview: beside the form on wide screens; on narrow ones the action bar's link opens it
  // as a drawer (without JS the link jumps to it, just above the action bar).
  const narrow = () => window.matchMedia("(max-width: 1099px)").matches;
  let opener = null;
  function closePreview() {
    const panel = document.getElementById("preview-panel");
    if (!panel || !panel.classList.contains("is-open")) return;
    panel.classList.remove("is-open");
    const close = panel.querySelector("[data-preview-close]");
    if (close) close.hidden = true;
    document.querySelectorAll("[data-preview-toggle]").forEach((t) => t.setAttribute("aria-expanded", "false"));
    if (opener && document.body.contains(opener)) opener.focus();
  }
  function openPreview(toggle) {
    const panel = document.getElementById("preview-panel");
    if (!panel) return;
    opener = toggle;
    panel.classList.add("is-open");
    const close = panel.querySelector("[data-preview-close]");
    if (close) close.hidden = false;
    toggle.setAttribute("aria-expanded", "true");
    panel.focus();
  }
  document.addEventListener("click", (event) => {
    // The bar's links to the preview (and to its list of problems): on wide screens the preview
    // is already beside the form, so it only takes the focus (following the link would scroll the
    // page to where the panel starts); on narrow ones it opens as a drawer.
    const toggle = event.target.closest("[data-preview-toggle]");
    if (toggle) {
      const panel = document.getElementById("preview-panel");
      if (!panel) return;
      event.preventDefault();
      const target = document.getElementById(toggle.getAttribute("href").slice(1)) || panel;
      if (narrow()) {
        if (panel.classList.contains("is-open") && target === panel) {
          closePreview();
          return;
        }
        openPreview(toggle);
      }
      // Scroll the panel itself (it scrolls on its own), never the page.
      const top = target.getBoundingClientRect().top - panel.getBoundingClientRect().top;
      panel.scrollTop += target === panel ? -panel.scrollTop : top - 8;
      target.focus({ preventScroll: true });
      return;
    }
    if (event.target.closest("[data-preview-close]")) {
      closePreview();
      return;
    }
    // A problem's link goes to its control and puts the cursor there.
    const jump = event.target.closest("a[data-jump]");
    if (!jump) return;
    const target = document.getElementById(jump.getAttribute("href").slice(1));
    if (!target) return;
    event.preventDefault();
    closePreview();
    const control = target.matches("input, select, textarea, button")
      ? target
      : target.querySelector("input:not([type=hidden]), select, textarea, button");
    const folded = target.closest("details:not([open])");
    if (folded) folded.open = true;
    target.scrollIntoView({ block: "center" });
    if (control) control.focus({ preventScroll: true });
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closePreview();
  });
  window.addEventListener("resize", () => { if (!narrow()) closePreview(); });
})();
