// Shows the e-mail and password fields in place when a method that uses the account is chosen. Without
// this script they stay hidden and disabled (never sent) and the server asks for them on the next page.
(function () {
  var form = document.getElementById("choice");
  var box = document.getElementById("credentials");
  if (!form || !box) { return; }
  function update(moveFocus) {
    var chosen = form.querySelector("input[name=method]:checked");
    var needs = !!chosen && chosen.hasAttribute("data-needs-password");
    var wasShown = !box.hidden;
    box.hidden = !needs;
    box.disabled = !needs;
    if (needs && !wasShown && moveFocus) { document.getElementById("email").focus(); }
  }
  form.addEventListener("change", function (event) {
    if (event.target.name === "method") { update(true); }
  });
  update(false);
})();
