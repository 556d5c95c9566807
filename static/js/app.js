// htmx event glue only: loading bar, error toast, copy buttons. Behaviour lives on the server.
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
})();
