// Progressive enhancement only: every page works without this script.
(function () {
  "use strict";
  // A form marked data-confirm asks before a change that cannot be undone.
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });
  // The error summary of a refused form takes the focus, so that it is read first.
  document.addEventListener("DOMContentLoaded", function () {
    var summary = document.querySelector("[data-focus]");
    if (summary) { summary.focus(); }
  });
  // A copy button copies the text of the element it names (an API key shown once).
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) { return; }
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (source && navigator.clipboard) {
      navigator.clipboard.writeText(source.textContent.trim()).then(function () {
        var status = document.getElementById(button.getAttribute("data-copy") + "-status");
        if (status) { status.textContent = "Copié dans le presse-papiers."; }
      });
    }
  });
  // A « tout sélectionner » box checks every box of the named group.
  document.addEventListener("change", function (event) {
    var group = event.target.getAttribute("data-select-all");
    if (!group) { return; }
    document.querySelectorAll('input[type=checkbox][name="' + group + '"]').forEach(function (box) {
      box.checked = event.target.checked;
    });
  });
  // In a form with a search button of its own (a long list's choice), Enter in the search field searches, and in
  // any other field does the form's main action: the browser alone would press the first button, the search.
  document.addEventListener("keydown", function (event) {
    var field = event.target;
    if (event.key !== "Enter" || field.tagName !== "INPUT" || !field.form) { return; }
    var searches = field.form.querySelectorAll("button[data-search]");
    if (!searches.length) { return; }
    var own = Array.prototype.find.call(searches, function (b) { return b.dataset.search === field.name; });
    var button = own || field.form.querySelector("button[type=submit]:not([data-search])");
    if (button) { event.preventDefault(); field.form.requestSubmit(button); }
  });
})();
