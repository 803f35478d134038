// Onward console: small progressive enhancements on top of htmx (no build step).
// Everything here is optional: the pages work without it.
(function () {
  "use strict";

  // most log lines kept on a page; the oldest are dropped beyond
  var MAX_LOG_LINES = 2000;

  function loadPlanFiles() {
    var field = document.getElementById("file-field");
    var input = document.getElementById("plan-file");
    var text = document.getElementById("source");
    if (!field || !input || !text) return;
    field.hidden = false;
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      if (!file) return;
      var reader = new FileReader();
      reader.onload = function () {
        text.value = String(reader.result);
        text.focus();
      };
      reader.readAsText(file);
    });
  }

  function nearBottom(element) {
    return element.scrollHeight - element.scrollTop - element.clientHeight < 40;
  }

  function followLog() {
    var log = document.getElementById("log");
    if (!log) return;
    log.scrollTop = log.scrollHeight;
    var pinned = true;
    log.addEventListener("scroll", function () { pinned = nearBottom(log); });
    document.body.addEventListener("htmx:sseMessage", function (event) {
      if (event.target !== log) return;
      while (log.children.length > MAX_LOG_LINES) log.removeChild(log.firstElementChild);
      if (pinned) log.scrollTop = log.scrollHeight;
    });
  }

  // move the keyboard focus to a preview or to validation problems once shown
  function focusSwapped() {
    document.body.addEventListener("htmx:afterSwap", function (event) {
      var target = event.detail && event.detail.target;
      if (!target || (target.id !== "preview" && target.id !== "problems")) return;
      var heading = target.querySelector("h2[tabindex], h3[tabindex]");
      if (heading) heading.focus();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    loadPlanFiles();
    followLog();
    focusSwapped();
  });
})();
