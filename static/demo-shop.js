// The demo shop's live events panel: redraws the table from /demo/events every second.
(function () {
  var body = document.querySelector("#events tbody");
  // The words for "no events yet", in the page's language, from the table itself.
  var none = document.getElementById("events").dataset.none;
  function cell(row, text, cls) {
    var td = row.insertCell();
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }
  function draw(events) {
    var fresh = document.createElement("tbody");
    events.forEach(function (e) {
      var row = fresh.insertRow();
      row.className = "event";
      row.dataset.type = e.type;
      row.dataset.payment = e.payment_id;
      cell(row, e.time);
      cell(row, e.type);
      var link = document.createElement("a");
      link.href = "/payments/" + encodeURIComponent(e.payment_id);
      var code = document.createElement("code");
      code.textContent = e.payment_id;
      link.appendChild(code);
      var order = document.createElement("span");
      order.className = "order";
      order.textContent = e.order_reference;
      var ids = row.insertCell();
      ids.appendChild(link);
      ids.appendChild(order);
      cell(row, e.amount + " " + e.currency, "amount");
      cell(row, e.state, "state-" + e.state);
    });
    if (!events.length) {
      var row = fresh.insertRow();
      row.id = "no-events";
      var td = cell(row, none, "muted");
      td.colSpan = 5;
    }
    body.replaceWith(fresh);
    body = fresh;
  }
  function poll() {
    fetch("/demo/events", { cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (data) { draw(data.events); })
      .catch(function () {})
      .then(function () { setTimeout(poll, 1000); });
  }
  setTimeout(poll, 1000);
})();
