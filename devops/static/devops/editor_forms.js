/* The visual editor's forms, built from the file-shaped model (see editor.js for the model).
 *
 * DevopsEditorForms.build(model, options) returns the elements of the form column. Every input
 * carries data-path (where its value lives in the model, which is also the path the server puts on
 * an error about it) and data-type (how editor.js reads it back). Elements are made with DOM calls,
 * never innerHTML, so no value from a pipeline file can inject markup.
 */
(function (global) {
  "use strict";

  var KINDS = [
    ["runScriptConfig", "Run a script"],
    ["publishImageConfig", "Build and publish an image"],
    ["applyYamlConfig", "Apply Kubernetes YAML"],
    ["applyAppConfig", "Deploy a Helm chart"],
    ["sourceCodeConfig", "Clone (first step only)"]
  ];
  var KIND_KEYS = KINDS.map(function (k) { return k[0]; });
  var options = { events: [], openDetails: {}, stale: false };  // of the build in progress

  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) { return; }
      if (key === "text") { el.textContent = value; }
      else if (key === "className") { el.className = value; }
      else if (key === "value") { el.value = value; }
      else if (key === "checked") { el.checked = !!value; }
      else { el.setAttribute(key, value === true ? "" : value); }
    });
    (children || []).forEach(function (child) {
      if (child) { el.appendChild(typeof child === "string" ? document.createTextNode(child) : child); }
    });
    return el;
  }

  function kindOf(step) {
    for (var i = 0; i < KIND_KEYS.length; i++) { if (step && step[KIND_KEYS[i]] !== undefined) { return KIND_KEYS[i]; } }
    return "runScriptConfig";
  }

  function defaults(kind) {
    return {
      runScriptConfig: { image: "alpine:3.20", shellScript: "echo hello" },
      publishImageConfig: { dockerfilePath: "./Dockerfile", buildContext: ".", tag: "", pushRemote: false },
      applyYamlConfig: { path: "./deploy.yaml" },
      applyAppConfig: { chart: "", name: "", targetNamespace: "", values: {} },
      sourceCodeConfig: {}
    }[kind];
  }

  function listText(value) { return Array.isArray(value) ? value.join(", ") : (value || ""); }
  function linesText(value) { return Array.isArray(value) ? value.join("\n") : (value || ""); }
  function mapText(value) {
    return Object.keys(value || {}).map(function (k) { return k + "=" + value[k]; }).join("\n");
  }

  // --- form pieces ---------------------------------------------------------------------------------
  function field(label, path, type, value, opts) {
    opts = opts || {};
    var id = "f-" + path.replace(/[^A-Za-z0-9]/g, "-");
    var input;
    if (type === "bool" || type === "preload") {
      input = h("input", { type: "checkbox", id: id, "data-path": path, "data-type": type, checked: !!value });
      return h("div", { className: "field field-check" }, [h("label", { className: "check", "for": id }, [input, " " + label])]);
    }
    if (opts.multiline) {
      input = h("textarea", { id: id, rows: opts.rows || 3, spellcheck: "false", placeholder: opts.placeholder, "data-path": path, "data-type": type });
      input.value = value;
    } else {
      input = h("input", {
        type: "text", id: id, value: value, placeholder: opts.placeholder, spellcheck: "false",
        inputmode: type === "number" ? "decimal" : null, "data-path": path, "data-type": type, autocomplete: "off"
      });
    }
    return h("div", { className: "field" + (opts.wide ? " field-wide" : "") }, [
      h("label", { "for": id, text: label }), input, opts.help ? h("p", { className: "help", text: opts.help }) : null
    ]);
  }

  function button(text, action, path, extra) {
    return h("button", Object.assign({ type: "button", className: "btn-small", "data-action": action, "data-target": path, text: text }, extra || {}));
  }

  function whenFields(path, when) {
    when = when || {};
    var branch = when.branch || {};
    var events = when.event || [];
    var boxes = options.events.map(function (event) {
      return h("label", { className: "check event-check" }, [
        h("input", { type: "checkbox", value: event, "data-events": path + ".event", checked: events.indexOf(event) >= 0 }), " " + event
      ]);
    });
    return h("fieldset", { className: "when", "data-path": path }, [
      h("legend", { text: "Run only when" }),
      h("div", { className: "field-row" }, [
        field("Branches", path + ".branch.include", "list", listText(branch.include), { placeholder: "any branch, e.g. main, release/*" }),
        field("Except branches", path + ".branch.exclude", "list", listText(branch.exclude), { placeholder: "e.g. wip/*" })
      ]),
      h("div", { className: "events", "data-path": path + ".event" }, [h("span", { className: "help", text: "Events (none ticked: every event)" })].concat(boxes))
    ]);
  }

  function configFields(path, kind, config) {
    var p = path + "." + kind + ".";
    config = config || {};
    if (kind === "runScriptConfig") {
      return [
        field("Image", p + "image", "text", config.image || "", { placeholder: "e.g. golang:1.22" }),
        field("Shell script", p + "shellScript", "text", config.shellScript || "", { multiline: true, rows: 4, wide: true })
      ];
    }
    if (kind === "publishImageConfig") {
      var out = [
        field("Image tag", p + "tag", "text", config.tag || "", { placeholder: "myorg/app:${CICD_GIT_COMMIT}" }),
        field("Dockerfile", p + "dockerfilePath", "text", config.dockerfilePath || "", { placeholder: "./Dockerfile" }),
        field("Build context", p + "buildContext", "text", config.buildContext || "", { placeholder: "." }),
        field("Registry", p + "registry", "text", config.registry || "", { placeholder: "registry.example.com", help: "must match one of the project's registry credentials" }),
        field("Push to the remote registry (otherwise the project's built-in one)", p + "pushRemote", "bool", config.pushRemote === true || config.pushRemote === "true"),
        field("Warm the image on nodes after the push (preload)", p + "preload", "preload", config.preload !== undefined)
      ];
      if (config.preload !== undefined) {
        out.push(field("Preload on nodes", p + "preload.nodes", "list", listText(config.preload.nodes), { placeholder: "every node" }));
        out.push(field("Preload parallelism", p + "preload.parallelism", "number", String(config.preload.parallelism || "")));
      }
      return out;
    }
    if (kind === "applyYamlConfig") {
      return [
        field("Manifest path", p + "path", "text", config.path || "", { placeholder: "./deploy/app.yaml", help: "a file in the workspace, or leave empty and write the YAML below" }),
        field("Inline manifests", p + "content", "text", config.content || "", { multiline: true, rows: 3, wide: true }),
        field("Namespace", p + "namespace", "text", config.namespace || "")
      ];
    }
    if (kind === "applyAppConfig") {
      return [
        field("Chart", p + "chart", "text", config.chart || ""),
        field("Chart repository", p + "repo", "text", config.repo || "", { placeholder: "https://charts.example.com" }),
        field("Version", p + "version", "text", config.version || ""),
        field("Release name", p + "name", "text", config.name || ""),
        field("Target namespace", p + "targetNamespace", "text", config.targetNamespace || ""),
        field("Values (key=value per line)", p + "values", "map", mapText(config.values), { multiline: true, rows: 2, wide: true })
      ];
    }
    return [h("p", { className: "help", text: "Checks the commit out into the workspace; it has no settings." })];
  }

  function stepForm(stageIndex, stepIndex, step, count) {
    var path = "stages." + stageIndex + ".steps." + stepIndex;
    var kind = kindOf(step);
    var select = h("select", { "data-kind": path, "aria-label": "Step kind" }, KINDS.map(function (k) {
      var option = h("option", { value: k[0], text: k[1] });
      option.selected = k[0] === kind;
      return option;
    }));
    var envFrom = (step.envFrom || []).map(function (item, i) {
      var base = path + ".envFrom." + i + ".";
      return h("div", { className: "field-row envfrom-row", "data-path": path + ".envFrom." + i }, [
        field("Secret", base + "sourceName", "text", item.sourceName || ""),
        field("Key", base + "sourceKey", "text", item.sourceKey || ""),
        field("As variable", base + "targetKey", "text", item.targetKey || ""),
        button("Remove", "remove-envfrom", base.slice(0, -1), { "aria-label": "Remove this secret value" })
      ]);
    });
    var more = h("details", { className: "step-more", "data-details": path, open: !!options.openDetails[path] }, [
      h("summary", { text: "Environment, secrets, cache, timeout, resources, conditions" }),
      field("Environment (KEY=value per line)", path + ".env", "map", mapText(step.env), { multiline: true, rows: 2, wide: true }),
      h("div", { className: "envfrom", "data-path": path + ".envFrom" }, [h("span", { className: "help", text: "Values from project secrets (not given to pull request builds)" })]
        .concat(envFrom).concat([button("Add a secret value", "add-envfrom", path)])),
      field("Cache paths (one per line)", path + ".cache.paths", "lines", linesText(step.cache && step.cache.paths), { multiline: true, rows: 2, placeholder: "kept between executions, e.g. /root/.cache" }),
      h("div", { className: "field-row" }, [
        field("Timeout (minutes)", path + ".timeout", "number", step.timeout === undefined ? "" : String(step.timeout)),
        field("CPU request", path + ".cpuRequest", "text", step.cpuRequest || "", { placeholder: "500m" }),
        field("CPU limit", path + ".cpuLimit", "text", step.cpuLimit || "", { placeholder: "2" }),
        field("Memory request", path + ".memoryRequest", "text", step.memoryRequest || "", { placeholder: "256Mi" }),
        field("Memory limit", path + ".memoryLimit", "text", step.memoryLimit || "", { placeholder: "1Gi" })
      ]),
      whenFields(path + ".when", step.when)
    ]);
    return h("div", { className: "editor-step", "data-path": path, "data-stage": stageIndex, "data-step": stepIndex }, [
      h("div", { className: "item-head" }, [
        select,
        h("span", { className: "item-tools" }, [
          button("↑", "step-up", path, { title: "Move up", "aria-label": "Move step up", disabled: stepIndex === 0 }),
          button("↓", "step-down", path, { title: "Move down", "aria-label": "Move step down", disabled: stepIndex === count - 1 }),
          button("Remove", "remove-step", path, { className: "btn-small btn-danger" })
        ])
      ]),
      field("Step name", path + ".name", "text", step.name || "", { placeholder: "automatic" }),
      h("div", { className: "kind-fields", "data-path": path + "." + kind }, configFields(path, kind, step[kind])),
      more
    ]);
  }

  function stageForm(index, stage, count) {
    var path = "stages." + index;
    var steps = (stage.steps || []).map(function (step, j) { return stepForm(index, j, step, stage.steps.length); });
    var addKind = h("select", { "data-add-kind": path, "aria-label": "Kind of the new step" }, KINDS.slice(0, 4).map(function (k) {
      return h("option", { value: k[0], text: k[1] });
    }));
    return h("section", { className: "editor-stage card", "data-path": path, "data-stage": index }, [
      h("div", { className: "item-head" }, [
        h("strong", { className: "stage-number", text: "Stage " + (index + 1) }),
        h("span", { className: "item-tools" }, [
          button("↑", "stage-up", path, { title: "Move stage up", "aria-label": "Move stage up", disabled: index === 0 }),
          button("↓", "stage-down", path, { title: "Move stage down", "aria-label": "Move stage down", disabled: index === count - 1 }),
          button("Remove stage", "remove-stage", path, { className: "btn-small btn-danger" })
        ])
      ]),
      field("Stage name", path + ".name", "text", stage.name || "", { placeholder: "e.g. Test" }),
      h("details", { className: "stage-more", "data-details": path, open: !!options.openDetails[path] }, [
        h("summary", { text: "Conditions and default cache" }),
        whenFields(path + ".when", stage.when),
        field("Default cache paths for its steps (one per line)", path + ".cache.paths", "lines", linesText(stage.cache && stage.cache.paths), { multiline: true, rows: 2 })
      ]),
      h("div", { className: "editor-steps", "data-path": path + ".steps" }, steps.length ? steps : [h("p", { className: "help", text: "No steps yet: a stage needs at least one. Add one below." })]),
      h("div", { className: "add-step" }, [addKind, button("Add step", "add-step", path, { className: "btn-small add-step-button" })])
    ]);
  }

  /* The whole form column: pipeline settings, a note while the YAML does not parse, the stages. */
  function build(model, opts) {
    options = opts;
    var parts = [];
    var top = h("fieldset", { className: "pipeline-settings", "data-path": "" }, [
      h("legend", { text: "Pipeline" }),
      h("div", { className: "field-row" }, [
        field("Timeout (minutes)", "timeout", "number", model.timeout === undefined ? "" : String(model.timeout), { placeholder: "60" }),
        field("Run on branches", "branch.include", "list", listText(model.branch && model.branch.include), { placeholder: "every branch" }),
        field("Never on branches", "branch.exclude", "list", listText(model.branch && model.branch.exclude))
      ])
    ]);
    if (model.template) {
      top.appendChild(field("Template", "template.name", "text", model.template.name || "", { help: "a project template whose stages run before these" }));
      top.appendChild(field("Template parameters (name=value per line)", "template.params", "map", mapText(model.template.params), { multiline: true, rows: 2 }));
    }
    if (model.notification) {
      top.appendChild(h("p", { className: "help", "data-path": "notification", text: "Notifications (" + (model.notification.recipients || []).length + " recipient(s)) are kept as written: edit them in the YAML." }));
    }
    parts.push(top);
    if (options.stale) {
      parts.push(h("p", { className: "card editor-stale", text: "The YAML has errors, so these forms show the last version that parsed. Fix the YAML, or edit a form to replace the YAML with it." }));
    }
    var stages = model.stages || [];
    if (!stages.length) {
      parts.push(h("p", { className: "card empty", text: "No stages yet. Add a stage, then give it a step: a script to run, an image to publish or something to deploy." }));
    }
    stages.forEach(function (stage, i) { parts.push(stageForm(i, stage, stages.length)); });
    parts.push(h("button", { type: "button", id: "add-stage", text: "Add stage" }));
    return parts;
  }

  global.DevopsEditorForms = {
    KINDS: KINDS,
    KIND_KEYS: KIND_KEYS,
    h: h,
    kindOf: kindOf,
    defaults: defaults,
    build: build
  };
})(window);
