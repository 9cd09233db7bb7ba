// The console's only script: a confirmation before forms (or buttons) that change something
// hard to undo, and the print buttons. No inline script anywhere (the pages' CSP forbids it).
"use strict";
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement)) return;
  const button = event.submitter;
  const question = (button && button.dataset.confirmButton) || form.dataset.confirm;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
document.addEventListener("click", (event) => {
  if (event.target instanceof Element && event.target.closest(".print-page")) {
    window.print();
  }
});
