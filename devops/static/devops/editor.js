/* The visual pipeline editor: forms on the left, the YAML on the right, kept in sync both ways.
 *
 * The model is the pipeline file as JSON with the file's own keys (one *Config key per step), so an
 * error's dotted path ("stages.1.steps.0.runScriptConfig.image") names the form field to highlight.
 * Editing a form changes the model, and 300 ms later the server renders it (render.json) into the
 * YAML box; editing the YAML is parsed by the server (parse.json) and, when it parses, the forms are
 * rebuilt from it. Both answers carry every error with its line, so validation happens as you type
 * with the real parser. Forms are built with DOM calls (never innerHTML), so no value can inject markup.
 */
(function () {
  "use strict";

  var root = document.getElementById("editor");
  if (!root) { return; }
  var DEBOUNCE_MS = 300;
  var Forms = window.DevopsEditorForms;
  var h = Forms.h;
  var KIND_KEYS = Forms.KIND_KEYS;
  var defaults = Forms.defaults;
  var EVENTS = JSON.parse(document.getElementById("editor-events").textContent);
  var initial = JSON.parse(document.getElementById("editor-initial").textContent);
  var forms = document.getElementById("editor-forms");
  var yamlBox = document.getElementById("editor-yaml");
  var gutter = document.getElementById("editor-gutter");
  var errorList = document.getElementById("editor-errors");
  var syncState = document.getElementById("editor-sync");
  var actionStatus = document.getElementById("editor-action-status");
  var csrf = root.querySelector("input[name=csrfmiddlewaretoken]").value;
  var model = initial.model || { stages: [] };
  var modelValid = !!initial.model;
  var openDetails = {};   // data-path -> true for "more settings" sections the user opened
  var sequence = 0;       // answers to older requests are ignored
  var timer = null;
  var lastErrors = initial.errors || [];

  // --- the model -----------------------------------------------------------------------------------
  function split(path) { return path.split(".").map(function (p) { return /^\d+$/.test(p) ? parseInt(p, 10) : p; }); }

  function getAt(obj, path) {
    return split(path).reduce(function (o, key) { return o === undefined || o === null ? undefined : o[key]; }, obj);
  }

  function setAt(obj, path, value) {
    var keys = split(path);
    var target = obj;
    for (var i = 0; i < keys.length - 1; i++) {
      if (target[keys[i]] === undefined || target[keys[i]] === null) {
        target[keys[i]] = typeof keys[i + 1] === "number" ? [] : {};
      }
      target = target[keys[i]];
    }
    var last = keys[keys.length - 1];
    var empty = value === undefined || value === "" || (Array.isArray(value) && !value.length) ||
      (value && typeof value === "object" && !Array.isArray(value) && !Object.keys(value).length);
    if (empty && typeof last !== "number" && !/^(name|image|shellScript|tag|chart|targetNamespace)$/.test(last)) {
      delete target[last];
    } else {
      target[last] = value === undefined ? "" : value;
    }
  }

  var READ = {
    text: function (el) { return el.value; },
    number: function (el) { return el.value.trim(); },
    list: function (el) { return el.value.split(",").map(function (s) { return s.trim(); }).filter(Boolean); },
    lines: function (el) { return el.value.split("\n").map(function (s) { return s.trim(); }).filter(Boolean); },
    map: function (el) {
      var out = {};
      el.value.split("\n").forEach(function (line) {
        if (!line.trim()) { return; }
        var at = line.indexOf("=");
        var key = (at < 0 ? line : line.slice(0, at)).trim();
        if (key) { out[key] = at < 0 ? "" : line.slice(at + 1); }
      });
      return out;
    },
    bool: function (el) { return el.checked; }
  };

  function renderForms() {
    var focused = document.activeElement && forms.contains(document.activeElement) ? document.activeElement.getAttribute("data-path") : null;
    var parts = Forms.build(model, { events: EVENTS, openDetails: openDetails, stale: !modelValid });
    forms.textContent = "";
    parts.forEach(function (p) { forms.appendChild(p); });
    if (focused) {
      var again = forms.querySelector('[data-path="' + focused.replace(/"/g, '\\"') + '"]');
      if (again) { again.focus(); }
    }
    showErrors(lastErrors);
  }

  // --- errors --------------------------------------------------------------------------------------
  function renderGutter(errors) {
    var count = yamlBox.value.split("\n").length;
    var bad = {};
    errors.forEach(function (e) { if (!e.file || e.file === ".devops.yml") { bad[e.line] = true; } });
    gutter.textContent = "";
    for (var i = 1; i <= count; i++) {
      gutter.appendChild(h("span", { className: bad[i] ? "gl gl-error" : "gl", text: String(i) }));
      gutter.appendChild(document.createTextNode("\n"));
    }
    gutter.scrollTop = yamlBox.scrollTop;
  }

  function jumpTo(line, column) {
    var lines = yamlBox.value.split("\n");
    var offset = 0;
    for (var i = 0; i < line - 1 && i < lines.length; i++) { offset += lines[i].length + 1; }
    yamlBox.focus();
    var start = offset + Math.max(0, (column || 1) - 1);
    yamlBox.setSelectionRange(start, offset + (lines[line - 1] || "").length);
    var lineHeight = parseFloat(window.getComputedStyle(yamlBox).lineHeight) || 18;
    yamlBox.scrollTop = Math.max(0, (line - 3) * lineHeight);
  }

  function fieldFor(path) {
    var p = path;
    while (p) {
      var el = forms.querySelector('[data-path="' + p.replace(/"/g, '\\"') + '"]');
      if (el) { return el; }
      p = p.indexOf(".") >= 0 ? p.slice(0, p.lastIndexOf(".")) : "";
    }
    return null;
  }

  function showErrors(errors) {
    lastErrors = errors || [];
    forms.querySelectorAll(".field-invalid").forEach(function (el) { el.classList.remove("field-invalid"); });
    forms.querySelectorAll(".field-message").forEach(function (el) { el.remove(); });
    errorList.textContent = "";
    lastErrors.forEach(function (e) {
      var where = (e.file && e.file !== ".devops.yml" ? e.file + ", " : "") + "line " + e.line + ":" + e.column;
      var item = h("li", { className: "editor-error", "data-line": e.line, "data-error-path": e.path || "" }, [
        h("button", { type: "button", className: "linklike error-where", text: where }), " " + e.message
      ]);
      item.querySelector("button").addEventListener("click", function () { jumpTo(e.line, e.column); });
      errorList.appendChild(item);
      var target = e.path ? fieldFor(e.path) : null;
      if (target) {
        target.classList.add("field-invalid");
        var holder = target.closest(".field") || target;
        if (holder !== target) { holder.classList.add("field-invalid"); }
        if (holder.classList.contains("field")) {
          holder.appendChild(h("p", { className: "field-message field-error", text: e.message }));
        }
        var details = target.closest("details");
        if (details) { details.open = true; }
      }
    });
    renderGutter(lastErrors);
  }

  function setSync(text, state) {
    syncState.textContent = text;
    syncState.className = "sync-state" + (state ? " sync-" + state : "");
  }

  // --- server round trips --------------------------------------------------------------------------
  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, Accept: "application/json" },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) { return { status: response.status, data: data }; });
    });
  }

  function afterCheck(result) {
    showErrors(result.data.errors || []);
    if (result.status >= 400) { setSync(result.data.detail || "could not check the file", "error"); return; }
    var n = (result.data.errors || []).length;
    setSync(result.data.valid ? "valid" : n + " error" + (n === 1 ? "" : "s"), result.data.valid ? "ok" : "error");
  }

  function schedule(fn) {
    window.clearTimeout(timer);
    setSync("checking…", "busy");
    timer = window.setTimeout(fn, DEBOUNCE_MS);
  }

  function formsChanged() {
    schedule(function () {
      var mine = ++sequence;
      post(root.getAttribute("data-render-url"), { model: model }).then(function (result) {
        if (mine !== sequence) { return; }
        if (result.status === 200) {
          yamlBox.value = result.data.yaml;
          modelValid = true;
          forms.querySelectorAll(".editor-stale").forEach(function (el) { el.remove(); });
        }
        afterCheck(result);
      }).catch(function () { setSync("offline: changes are not checked", "error"); });
    });
  }

  function yamlChanged() {
    renderGutter(lastErrors);
    schedule(function () {
      var mine = ++sequence;
      post(root.getAttribute("data-parse-url"), { yaml: yamlBox.value }).then(function (result) {
        if (mine !== sequence) { return; }
        if (result.status === 200 && result.data.valid && result.data.model) {
          model = result.data.model;
          modelValid = true;
          lastErrors = [];
          renderForms();
        } else if (result.status === 200 && modelValid) {
          modelValid = false;
          renderForms();
        }
        afterCheck(result);
      }).catch(function () { setSync("offline: changes are not checked", "error"); });
    });
  }

  // --- events --------------------------------------------------------------------------------------
  forms.addEventListener("input", function (event) {
    var el = event.target;
    var path = el.getAttribute("data-path");
    var type = el.getAttribute("data-type");
    if (path && READ[type]) {
      setAt(model, path, READ[type](el));
      formsChanged();
    }
  });

  forms.addEventListener("change", function (event) {
    var el = event.target;
    if (el.hasAttribute("data-events")) {
      var path = el.getAttribute("data-events");
      var checked = Array.prototype.map.call(forms.querySelectorAll('input[data-events="' + path + '"]:checked'), function (b) { return b.value; });
      setAt(model, path, checked);
      formsChanged();
    } else if (el.hasAttribute("data-kind")) {
      var step = getAt(model, el.getAttribute("data-kind"));
      KIND_KEYS.forEach(function (k) { delete step[k]; });
      step[el.value] = defaults(el.value);
      renderForms();
      formsChanged();
    } else if (el.getAttribute("data-type") === "preload") {
      var config = getAt(model, el.getAttribute("data-path").replace(/\.preload$/, ""));
      if (el.checked) { config.preload = {}; } else { delete config.preload; }
      renderForms();
      formsChanged();
    } else if (el.getAttribute("data-type") === "bool") {
      setAt(model, el.getAttribute("data-path"), el.checked);
      formsChanged();
    }
  });

  forms.addEventListener("toggle", function (event) {
    var el = event.target;
    if (el.hasAttribute && el.hasAttribute("data-details")) { openDetails[el.getAttribute("data-details")] = el.open; }
  }, true);

  function move(list, index, by) {
    var to = index + by;
    if (to < 0 || to >= list.length) { return; }
    var item = list.splice(index, 1)[0];
    list.splice(to, 0, item);
  }

  forms.addEventListener("click", function (event) {
    var el = event.target.closest ? event.target.closest("button") : null;
    if (!el || !forms.contains(el)) { return; }
    if (el.id === "add-stage") {
      model.stages = model.stages || [];
      model.stages.push({ name: "Stage " + (model.stages.length + 1), steps: [{ runScriptConfig: defaults("runScriptConfig") }] });
    } else {
      var action = el.getAttribute("data-action");
      var path = el.getAttribute("data-target");
      if (!action || !path) { return; }
      var keys = split(path);
      var stages = model.stages;
      if (action === "stage-up" || action === "stage-down") { move(stages, keys[1], action === "stage-up" ? -1 : 1); }
      else if (action === "remove-stage") { stages.splice(keys[1], 1); }
      else if (action === "add-step") {
        var kind = forms.querySelector('select[data-add-kind="' + path + '"]').value;
        var step = {};
        step[kind] = defaults(kind);
        (stages[keys[1]].steps = stages[keys[1]].steps || []).push(step);
      } else if (action === "step-up" || action === "step-down") { move(stages[keys[1]].steps, keys[3], action === "step-up" ? -1 : 1); }
      else if (action === "remove-step") { stages[keys[1]].steps.splice(keys[3], 1); }
      else if (action === "add-envfrom") {
        var target = getAt(model, path);
        (target.envFrom = target.envFrom || []).push({ sourceName: "", sourceKey: "", targetKey: "" });
        openDetails[path] = true;
      } else if (action === "remove-envfrom") {
        var owner = getAt(model, path.replace(/\.envFrom\.\d+$/, ""));
        owner.envFrom.splice(keys[keys.length - 1], 1);
        if (!owner.envFrom.length) { delete owner.envFrom; }
      } else { return; }
    }
    renderForms();
    formsChanged();
  });

  yamlBox.addEventListener("input", yamlChanged);
  yamlBox.addEventListener("scroll", function () { gutter.scrollTop = yamlBox.scrollTop; });
  yamlBox.addEventListener("keydown", function (event) {
    if (event.key === "Tab" && !event.shiftKey && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();  // indent with two spaces instead of leaving the box
      var start = yamlBox.selectionStart;
      yamlBox.setRangeText("  ", start, yamlBox.selectionEnd, "end");
      yamlChanged();
    }
  });

  // --- run once and save ---------------------------------------------------------------------------
  function showActionErrors(data) {
    var errors = (data.config_errors || data.errors || []);
    if (Array.isArray(errors) && errors.length && typeof errors[0] === "object") { showErrors(errors); }
  }

  document.getElementById("run-once").addEventListener("click", function () {
    var runButton = this;
    runButton.disabled = true;
    actionStatus.textContent = "Starting a run with this config…";
    var body = { config: yamlBox.value };
    var branch = document.getElementById("run-branch").value.trim();
    if (branch) { body.branch = branch; }
    post(root.getAttribute("data-run-url"), body).then(function (result) {
      if (result.status === 201 && result.data.id) {
        actionStatus.textContent = "Run #" + result.data.run + " started; opening it…";
        window.location.assign("/executions/" + result.data.id + "/");
        return;
      }
      runButton.disabled = false;
      showActionErrors(result.data);
      var detail = result.data.detail;
      if (!detail && result.data.errors) { detail = JSON.stringify(result.data.errors); }
      actionStatus.textContent = "Not started: " + (detail || "the server answered " + result.status);
    }).catch(function () {
      runButton.disabled = false;
      actionStatus.textContent = "Not started: the server could not be reached.";
    });
  });

  var saveButton = document.getElementById("save");
  if (saveButton && !saveButton.disabled) {
    saveButton.addEventListener("click", function () {
      saveButton.disabled = true;
      actionStatus.textContent = "Committing…";
      post(root.getAttribute("data-save-url"), {
        yaml: yamlBox.value, path: root.getAttribute("data-file"),
        message: document.getElementById("save-message").value, base_commit: root.getAttribute("data-base-commit")
      }).then(function (result) {
        saveButton.disabled = false;
        if (result.status === 200) {
          root.setAttribute("data-base-commit", result.data.commit);
          actionStatus.textContent = "Saved as commit " + String(result.data.commit).slice(0, 7) + " on " + result.data.branch + ".";
        } else {
          showActionErrors(result.data);
          actionStatus.textContent = "Not saved: " + (result.data.detail || "the server answered " + result.status);
        }
      }).catch(function () {
        saveButton.disabled = false;
        actionStatus.textContent = "Not saved: the server could not be reached.";
      });
    });
  }

  // --- start ---------------------------------------------------------------------------------------
  renderForms();
  afterCheck({ status: 200, data: initial });
})();
