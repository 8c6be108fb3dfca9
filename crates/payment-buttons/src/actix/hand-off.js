// Submits the hand-off form at once, so the buyer goes straight on to the gateway. Served as a file, not
// inline, so that the pages' Content-Security-Policy can forbid every inline script. Without JavaScript the
// buyer presses the form's button instead.
(function () {
  var form = document.querySelector("form[data-auto-submit]");
  if (form) {
    form.submit();
  }
})();
