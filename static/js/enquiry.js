// The profile page is the same for every visitor (caches share it), so its message form carries
// no form token. This fetches the visitor's own from /csrf-token once they start on the form
// (which gives them a session cookie: a visitor who only reads keeps none, and keeps getting
// cached pages), and before sending if they have not. Without it the message comes back on the
// contact page, as typed, to be sent once more.
(function () {
  "use strict";
  var fields = document.querySelectorAll("input[data-token-from]");
  Array.prototype.forEach.call(fields, function (field) {
    var form = field.form;
    var pending = null;
    function fetchToken() {
      if (!pending) {
        pending = fetch(field.getAttribute("data-token-from"),
                        {credentials: "same-origin", cache: "no-store"})
          .then(function (response) { return response.ok ? response.json() : null; })
          .then(function (body) { if (body && body.token) { field.value = body.token; } })
          .catch(function () { pending = null; });
      }
      return pending;
    }
    form.addEventListener("focusin", fetchToken);
    form.addEventListener("submit", function (event) {
      if (field.value) { return; }
      event.preventDefault();
      var send = function () { form.submit(); };
      fetchToken().then(send, send);
    });
  });
})();
