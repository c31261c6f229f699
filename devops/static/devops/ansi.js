/* ANSI colours in step logs -> HTML spans.
 *
 * Text is HTML-escaped piece by piece before it is wrapped, so a log can never inject markup.
 * Supported SGR codes: 0 (reset), 1 (bold), 22 (normal), 30-37 / 90-97 (foreground), 39 (default
 * foreground), 40-47 / 100-107 (background), 49 (default background); 38/48 extended colours are
 * skipped with their arguments. Any other escape sequence (cursor moves, erase line) is dropped.
 * The style state is carried across calls because a colour set on one line often ends lines later.
 *
 *   const r = DevopsAnsi.toHtml("\x1b[31mred\x1b[0m", DevopsAnsi.initialState());
 *   r.html === '<span class="ansi-fg-1">red</span>'; r.state is the style after the text.
 */
(function (global) {
  "use strict";

  var ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) { return ESCAPES[c]; });
  }

  function initialState() {
    return { fg: null, bg: null, bold: false };
  }

  function copyState(state) {
    return { fg: state.fg, bg: state.bg, bold: state.bold };
  }

  function applySgr(state, params) {
    var codes = params === "" ? [0] : params.split(";").map(function (p) { return p === "" ? 0 : parseInt(p, 10); });
    for (var i = 0; i < codes.length; i++) {
      var c = codes[i];
      if (c === 0) { state.fg = null; state.bg = null; state.bold = false; }
      else if (c === 1) { state.bold = true; }
      else if (c === 22) { state.bold = false; }
      else if (c >= 30 && c <= 37) { state.fg = String(c - 30); }
      else if (c >= 90 && c <= 97) { state.fg = String(c - 90 + 8); }
      else if (c === 39) { state.fg = null; }
      else if (c >= 40 && c <= 47) { state.bg = String(c - 40); }
      else if (c >= 100 && c <= 107) { state.bg = String(c - 100 + 8); }
      else if (c === 49) { state.bg = null; }
      else if (c === 38 || c === 48) {
        // 38;5;n or 38;2;r;g;b: skip the arguments (no 256-colour palette here).
        if (codes[i + 1] === 5) { i += 2; } else if (codes[i + 1] === 2) { i += 4; }
      }
    }
  }

  function classesOf(state) {
    var out = [];
    if (state.bold) { out.push("ansi-bold"); }
    if (state.fg !== null) { out.push("ansi-fg-" + state.fg); }
    if (state.bg !== null) { out.push("ansi-bg-" + state.bg); }
    return out.join(" ");
  }

  function wrap(text, state) {
    if (!text) { return ""; }
    var cls = classesOf(state);
    var safe = escapeHtml(text);
    return cls ? '<span class="' + cls + '">' + safe + "</span>" : safe;
  }

  // CSI sequences (ESC [ params final), OSC sequences (ESC ] ... BEL or ESC \), other two-byte escapes.
  var SEQUENCE = /\x1b(?:\[([0-9;?]*)([@-~])|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])/g;

  /* Convert one piece of text; `state` (from initialState or a previous call) is not modified. */
  function toHtml(text, state) {
    var current = copyState(state || initialState());
    var html = "";
    var last = 0;
    var match;
    SEQUENCE.lastIndex = 0;
    while ((match = SEQUENCE.exec(text)) !== null) {
      html += wrap(text.slice(last, match.index), current);
      if (match[2] === "m" && match[1] !== undefined && match[1].indexOf("?") === -1) {
        applySgr(current, match[1]);
      }
      last = SEQUENCE.lastIndex;
    }
    // A lone ESC left over (a sequence cut by the caller) is dropped rather than shown.
    html += wrap(text.slice(last).replace(/\x1b\[?[0-9;?]*$/, ""), current);
    return { html: html, state: current };
  }

  /* Text without any escape sequence, for copying or searching. */
  function strip(text) {
    return String(text).replace(SEQUENCE, "");
  }

  global.DevopsAnsi = { toHtml: toHtml, strip: strip, escapeHtml: escapeHtml, initialState: initialState };
})(window);
