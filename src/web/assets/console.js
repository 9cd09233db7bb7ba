// The console's only script: a confirmation before forms that change a card, and nothing else.
// No inline script anywhere (the pages' CSP forbids it), so this file is the whole of it.
"use strict";
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form instanceof HTMLFormElement ? form.dataset.confirm : undefined;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
