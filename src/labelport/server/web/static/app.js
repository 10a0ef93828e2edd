/* labelport: the small script of the web pages. Plain JavaScript, no build step, no libraries.
 *
 * - live export progress: polls /exports/status.json and updates the page in place;
 * - row selection that survives paging (sessionStorage), "select all on this page";
 * - the export dialog shows the destination fields of the chosen format;
 * - image thumbnails that cannot load turn into the media type's badge;
 * - a form with errors moves focus to its error summary.
 * Every page works without it (with fewer conveniences).
 */
(function () {
  "use strict";

  function fmt(value) {
    return typeof value === "number" ? value.toLocaleString("en-US") : value === null || value === undefined ? "–" : String(value);
  }

  // ------------------------------------------------------------------ live export progress
  var POLL_MS = 1000;

  function unfinished() {
    var ids = [];
    document.querySelectorAll("[data-export][data-finished='false']").forEach(function (el) {
      var id = el.getAttribute("data-export");
      if (ids.indexOf(id) < 0) ids.push(id);
    });
    return ids;
  }

  function announce(text) {
    var live = document.getElementById("live-status");
    if (live) live.textContent = text;
  }

  function apply(item) {
    document.querySelectorAll("[data-export='" + CSS.escape(item.id) + "']").forEach(function (el) {
      el.querySelectorAll("[data-field]").forEach(function (node) {
        var field = node.getAttribute("data-field");
        if (field === "status") {
          node.textContent = item.status;
          node.className = "status s-" + item.status;
        } else if (field === "progress") {
          if (item.percent === null || item.percent === undefined) node.removeAttribute("value");
          else node.value = item.percent;
        } else if (field === "percent") {
          node.textContent = item.percent === null || item.percent === undefined ? "" : item.percent + "%";
        } else if (field === "done") {
          node.textContent = fmt(item.done) + (item.total ? " of " + fmt(item.total) : "");
        } else if (field === "links") {
          if (item.links) {
            node.querySelectorAll("a[data-link]").forEach(function (a) {
              a.href = item.links[a.getAttribute("data-link")];
            });
            node.hidden = false;
          }
        } else if (field === "error_message") {
          node.textContent = item.error_message || "";
          node.hidden = !item.error_message;
        } else if (field === "when-finished") {
          node.hidden = !item.finished;
        } else if (field === "while-running") {
          node.hidden = item.finished;
        } else if (field in item) {
          node.textContent = fmt(item[field]);
        }
      });
      if (item.finished && el.getAttribute("data-finished") === "false") {
        el.setAttribute("data-finished", "true");
        announce("Export " + (item.name || item.id) + " is " + item.status);
      }
    });
  }

  function poll() {
    var ids = unfinished();
    if (!ids.length) return;
    var query = ids.map(function (id) { return "id=" + encodeURIComponent(id); }).join("&");
    fetch("/exports/status.json?" + query, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (body && body.exports) body.exports.forEach(apply);
      })
      .catch(function () { /* try again at the next tick */ })
      .then(function () { window.setTimeout(poll, POLL_MS); });
  }

  // ------------------------------------------------------------------------- selection
  var MAX_SELECTED = 2000;

  function setupSelection(form) {
    var key = "labelport-selection:" + form.getAttribute("data-view");
    var boxes = Array.prototype.slice.call(form.querySelectorAll("input[name='row']"));
    var pageBox = document.getElementById("select-page");
    var allBox = document.getElementById("select-all-matching");
    var counter = document.getElementById("selected-count");
    var clear = document.getElementById("clear-selection");
    var chosen;
    try { chosen = JSON.parse(window.sessionStorage.getItem(key) || "[]"); } catch (e) { chosen = []; }
    if (!Array.isArray(chosen)) chosen = [];

    function save() {
      try { window.sessionStorage.setItem(key, JSON.stringify(chosen)); } catch (e) { /* private mode */ }
    }
    function refresh() {
      var total = form.getAttribute("data-count");
      if (allBox && allBox.checked) counter.textContent = "All " + total + " matching rows selected";
      else counter.textContent = chosen.length.toLocaleString("en-US") + " selected";
      if (pageBox) pageBox.checked = boxes.length > 0 && boxes.every(function (b) { return b.checked; });
      boxes.forEach(function (b) { b.disabled = !!(allBox && allBox.checked); });
    }
    function set(id, on) {
      var at = chosen.indexOf(id);
      if (on && at < 0) {
        if (chosen.length >= MAX_SELECTED) {
          counter.textContent = "At most " + MAX_SELECTED + " rows can be selected; export all matching instead";
          return false;
        }
        chosen.push(id);
      } else if (!on && at >= 0) chosen.splice(at, 1);
      return true;
    }

    boxes.forEach(function (b) {
      b.checked = chosen.indexOf(b.value) >= 0;
      b.addEventListener("change", function () {
        if (!set(b.value, b.checked)) b.checked = false;
        save();
        refresh();
      });
    });
    if (pageBox) {
      pageBox.addEventListener("change", function () {
        boxes.forEach(function (b) {
          if (set(b.value, pageBox.checked)) b.checked = pageBox.checked;
        });
        save();
        refresh();
      });
    }
    if (allBox) allBox.addEventListener("change", refresh);
    if (clear) {
      clear.addEventListener("click", function () {
        chosen = [];
        boxes.forEach(function (b) { b.checked = false; });
        if (allBox) allBox.checked = false;
        save();
        refresh();
      });
    }
    form.addEventListener("submit", function (event) {
      if (allBox && allBox.checked) return;
      if (!chosen.length) {
        event.preventDefault();
        counter.textContent = "Select rows first (or select all matching rows)";
        return;
      }
      var onPage = boxes.map(function (b) { return b.value; });
      chosen.forEach(function (id) {
        if (onPage.indexOf(id) < 0) {
          var hidden = document.createElement("input");
          hidden.type = "hidden";
          hidden.name = "row";
          hidden.value = id;
          form.appendChild(hidden);
        }
      });
      try { window.sessionStorage.removeItem(key); } catch (e) { /* ignore */ }
    });
    refresh();
  }

  // ------------------------------------------------------------------- export dialog
  function setupFormat(form) {
    var radios = form.querySelectorAll("input[name='format']");
    var vertex = document.getElementById("vertex-options");
    var fields = document.getElementById("ndjson-options");
    if (!radios.length || !vertex) return;
    function sync() {
      var chosen = form.querySelector("input[name='format']:checked");
      var isVertex = chosen && chosen.value === "vertex";
      vertex.hidden = !isVertex;
      vertex.disabled = !isVertex;
      if (fields) fields.disabled = isVertex;
    }
    radios.forEach(function (r) { r.addEventListener("change", sync); });
    sync();
  }

  // ---------------------------------------------------------------------- thumbnails
  function setupThumbnails() {
    document.querySelectorAll("img[data-badge]").forEach(function (img) {
      function fallback() {
        var span = document.createElement("span");
        span.className = "icon m-image";
        span.setAttribute("aria-hidden", "true");
        span.textContent = img.getAttribute("data-badge");
        img.replaceWith(span);
      }
      if (img.complete && img.naturalWidth === 0) fallback();
      else img.addEventListener("error", fallback);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var summary = document.getElementById("error-summary");
    if (summary) summary.focus();
    var selection = document.getElementById("selection");
    if (selection) setupSelection(selection);
    var dialog = document.getElementById("export-form");
    if (dialog) setupFormat(dialog);
    setupThumbnails();
    window.setTimeout(poll, POLL_MS);
  });
})();
