/* Evidence upload: a size check when a file is chosen, then the form sent in the background
   with a progress bar and a spoken "Uploading… 42 %". Everything here is an enhancement:
   without it the form posts normally and the server says the same things. */
(function () {
  "use strict";
  var form = document.querySelector("form[data-upload-form]");
  if (!form || typeof window.FormData === "undefined" || !window.XMLHttpRequest) { return; }
  var input = form.querySelector("input[type=file]");
  var status = document.getElementById("upload-status");
  var progress = document.getElementById("upload-progress");
  var button = form.querySelector("[type=submit]");
  var maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10) || 0;
  var target = (form.action || window.location.href).split("#")[0];
  var sending = false;

  function megabytes(bytes) {
    return (bytes / (1024 * 1024)).toFixed(1).replace(/\.0$/, "") + " MB";
  }

  function say(text, kind) {
    status.textContent = text;
    status.className = "upload-status" + (kind ? " upload-" + kind : "");
  }

  /* The size message sits under the field, where the server's own errors appear. */
  function sizeError() {
    var id = input.id + "-size-error";
    var node = document.getElementById(id);
    var file = input.files && input.files[0];
    var problem = file && maxBytes && file.size > maxBytes
      ? "“" + file.name + "” is " + megabytes(file.size) + "; the limit is " +
        megabytes(maxBytes) + ". Choose a smaller file (a scan at 150 to 200 dpi is " +
        "usually well under 1 MB). Nothing has been sent."
      : "";
    var described = (input.getAttribute("aria-describedby") || "").split(" ").filter(
      function (x) { return x && x !== id; });
    if (problem) {
      if (!node) {
        node = document.createElement("p");
        node.className = "error";
        node.id = id;
        input.parentNode.appendChild(node);
      }
      node.textContent = problem;
      described.push(id);
      input.setAttribute("aria-invalid", "true");
    } else if (node) {
      node.parentNode.removeChild(node);
      input.removeAttribute("aria-invalid");
    }
    if (described.length) {
      input.setAttribute("aria-describedby", described.join(" "));
    } else {
      input.removeAttribute("aria-describedby");
    }
    return problem;
  }

  function finish() {
    sending = false;
    progress.hidden = true;
    if (button) { button.disabled = false; button.removeAttribute("aria-busy"); }
  }

  /* Show the page the server answered with, as a normal form post would have. */
  function showPage(html, url) {
    if (url && window.history && window.history.replaceState) {
      window.history.replaceState(null, "", url);
    }
    document.open();
    document.write(html);
    document.close();
  }

  /* The message of one of the site's error pages, or a general one. */
  function serverMessage(xhr) {
    if (xhr.status === 413) {
      return "The server refused the file because it is too large (the limit is " +
        megabytes(maxBytes) + "). Choose a smaller file. Nothing was saved.";
    }
    var text = "";
    try {
      var page = new DOMParser().parseFromString(xhr.responseText, "text/html");
      var lead = page.querySelector(".error-page .lead");
      text = lead ? lead.textContent.trim() : "";
    } catch (e) { text = ""; }
    return "Not saved (error " + xhr.status + "). " +
      (text || "Something went wrong on our side.") + " Your entries are still in the form.";
  }

  if (input) {
    input.addEventListener("change", function () {
      if (sizeError()) {
        say("The file is too large. Nothing has been sent.", "error");
      } else if (input.files && input.files[0]) {
        say("“" + input.files[0].name + "” (" + megabytes(input.files[0].size) +
            ") is ready to send.", "");
      } else {
        say("", "");
      }
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (sending) { return; }
    if (input && sizeError()) {
      say("The file is too large. Nothing has been sent: choose a smaller file.", "error");
      input.focus();
      return;
    }
    sending = true;
    var hasFile = input && input.files && input.files.length > 0;
    if (button) { button.disabled = true; button.setAttribute("aria-busy", "true"); }
    progress.hidden = false;
    progress.removeAttribute("value"); /* indeterminate until the first progress event */
    say(hasFile ? "Uploading… 0\u00a0%" : "Saving…", "");

    var xhr = new XMLHttpRequest();
    var lastSaid = 0;
    xhr.open("POST", target);
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) { return; }
      var percent = Math.floor(100 * e.loaded / e.total);
      progress.value = percent;
      progress.max = 100;
      var now = Date.now();
      /* The bar moves with every event; the words change at most once a second. */
      if (hasFile && (now - lastSaid > 1000 || percent === 100)) {
        lastSaid = now;
        say("Uploading… " + percent + "\u00a0%", "");
      }
    });
    xhr.upload.addEventListener("load", function () {
      progress.removeAttribute("value");
      say(hasFile ? "Upload complete. Checking the file and saving…" : "Saving…", "");
    });
    xhr.addEventListener("load", function () {
      var type = xhr.getResponseHeader("Content-Type") || "";
      if (xhr.status >= 200 && xhr.status < 300 && type.indexOf("text/html") === 0) {
        var redirected = xhr.responseURL && xhr.responseURL.split("#")[0] !== target;
        say(redirected ? "Saved." : "Not saved yet: please check the messages in the form.",
            redirected ? "ok" : "error");
        showPage(xhr.responseText, redirected ? xhr.responseURL : null);
        return;
      }
      finish();
      say(serverMessage(xhr), "error");
    });
    xhr.addEventListener("error", function () {
      finish();
      say("The upload failed because the connection was lost. Nothing was saved. Check " +
          "your connection and press the button again.", "error");
    });
    xhr.addEventListener("abort", function () {
      finish();
      say("The upload was stopped. Nothing was saved.", "error");
    });
    xhr.addEventListener("timeout", function () {
      finish();
      say("The upload took too long and was stopped. Nothing was saved. Try again, or " +
          "choose a smaller file.", "error");
    });
    xhr.send(new FormData(form));
  });
})();
