// Progress of a background job: reload the page every few seconds while an element carries
// data-poll, with a button to stop (WCAG 2.2.1: the person controls the timing). Without
// JavaScript the page offers a "Check again" link instead. No data is stored in the browser.
(function () {
  "use strict";
  var el = document.querySelector("[data-poll]");
  if (!el) { return; }
  var seconds = Math.max(1, parseInt(el.getAttribute("data-poll"), 10) || 2);
  var timer = window.setTimeout(function () { window.location.reload(); }, seconds * 1000);
  var button = document.getElementById("poll-stop");
  if (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      window.clearTimeout(timer);
      button.hidden = true;
      var note = document.getElementById("poll-note");
      if (note) { note.textContent = "Stopped checking: use “Check again” to see the progress."; }
    });
  }
}());
