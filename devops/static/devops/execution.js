/* The execution page, live.
 *
 * - Polls status.json every second until the execution is final and updates the header, the stages
 *   and the step boxes in place (building the stage columns if they appeared after the page loaded).
 * - Clicking a step opens its log: a running (or not yet started) step is followed with EventSource
 *   on the API's event stream (events: log, state, end; the event id is the next byte offset), a
 *   finished one is fetched as text/plain page by page. ANSI colours go through DevopsAnsi, which
 *   escapes HTML. The view sticks to the bottom until the reader scrolls up, and sticks again when
 *   they scroll back down (or press "follow").
 * The open step is kept in the URL hash (#log-<stage>-<step>) so a reload shows the same log.
 */
(function () {
  "use strict";

  var root = document.getElementById("execution");
  if (!root) { return; }
  var FINAL = { Success: true, Failed: true, Aborted: true, Skipped: true };
  var STATES = ["Queueing", "Waiting", "Building", "Success", "Failed", "Aborted", "Skipped"];
  var KIND_LABELS = {
    sourceCode: "clone", runScript: "script", publishImage: "publish image",
    applyYaml: "apply YAML", applyApp: "apply app"
  };
  var POLL_MS = 1000;
  var MAX_LINES = 50000;
  var statusUrl = root.getAttribute("data-status-url");
  var logBase = root.getAttribute("data-log-base");
  var status = JSON.parse(document.getElementById("execution-status").textContent);

  // --- helpers -------------------------------------------------------------------------------------
  function formatDuration(seconds) {
    if (seconds === null || seconds === undefined) { return ""; }
    var total = Math.floor(seconds);
    var hours = Math.floor(total / 3600);
    var minutes = Math.floor((total % 3600) / 60);
    var secs = total % 60;
    function two(n) { return (n < 10 ? "0" : "") + n; }
    if (hours) { return hours + "h " + two(minutes) + "m"; }
    if (minutes) { return minutes + "m " + two(secs) + "s"; }
    return secs + "s";
  }

  function setStateClass(el, prefix, state) {
    STATES.forEach(function (s) { el.classList.remove(prefix + s); });
    el.classList.add(prefix + state);
  }

  function setBadge(el, state) {
    if (!el) { return; }
    setStateClass(el, "state-", state);
    el.textContent = state;
    el.setAttribute("data-state", state);
  }

  function setText(el, text) {
    if (!el) { return; }
    el.textContent = text || "";
    el.hidden = !text;
  }

  function make(tag, cls, text) {
    var el = document.createElement(tag);
    if (cls) { el.className = cls; }
    if (text !== undefined && text !== null) { el.textContent = text; }
    return el;
  }

  function findStep(stage, step) {
    return root.querySelector('.step[data-stage="' + stage + '"][data-step="' + step + '"]');
  }

  function stepStatus(stage, step) {
    var s = (status.stages || []).filter(function (x) { return x.index === stage; })[0];
    return s ? (s.steps || []).filter(function (x) { return x.index === step; })[0] : null;
  }

  // --- stages and steps ----------------------------------------------------------------------------
  function buildStep(stage, step) {
    var li = make("li");
    var button = make("button", "step step-" + step.state);
    button.type = "button";
    button.setAttribute("data-stage", String(stage.index));
    button.setAttribute("data-step", String(step.index));
    button.setAttribute("data-name", step.name);
    button.setAttribute("aria-controls", "log");
    button.title = "Show the log of " + step.name;
    var top = make("span", "step-top");
    top.appendChild(make("span", "step-name", step.name));
    top.appendChild(make("span", "badge state state-" + step.state, step.state));
    var meta = make("span", "step-meta");
    meta.appendChild(make("span", "kind", KIND_LABELS[step.kind] || step.kind));
    meta.appendChild(make("span", "duration", ""));
    meta.appendChild(make("span", "exit-code", ""));
    button.appendChild(top);
    button.appendChild(meta);
    button.appendChild(make("span", "step-reason", ""));
    li.appendChild(button);
    return li;
  }

  function buildStages(st) {
    var container = document.getElementById("stages");
    var fresh = make("div", "stages");
    fresh.id = "stages";
    fresh.setAttribute("role", "list");
    st.stages.forEach(function (stage) {
      var section = make("section", "stage stage-" + stage.state);
      section.setAttribute("data-stage", String(stage.index));
      section.setAttribute("role", "listitem");
      var head = make("header", "stage-head");
      head.appendChild(make("span", "stage-name", stage.name));
      head.appendChild(make("span", "badge state state-" + stage.state, stage.state));
      section.appendChild(head);
      var list = make("ol", "steps");
      stage.steps.forEach(function (step) { list.appendChild(buildStep(stage, step)); });
      section.appendChild(list);
      fresh.appendChild(section);
    });
    container.parentNode.replaceChild(fresh, container);
  }

  function applyStatus(st) {
    status = st;
    setBadge(document.getElementById("execution-state"), st.state);
    setText(document.getElementById("execution-reason"), st.reason);
    var duration = document.getElementById("execution-duration");
    if (duration) { duration.textContent = formatDuration(st.duration) || "–"; }
    var started = document.getElementById("execution-started");
    if (started && st.started_at && started.getAttribute("data-at") !== st.started_at) {
      // Opened before the run started: show when it did (local time; the page's own text is relative).
      started.setAttribute("data-at", st.started_at);
      started.textContent = new Date(st.started_at).toLocaleTimeString();
      started.title = st.started_at;
    }
    var abortForm = document.getElementById("abort-form");
    if (abortForm) { abortForm.hidden = !!st.final; }
    var stepCount = st.stages.reduce(function (n, s) { return n + s.steps.length; }, 0);
    if (st.stages.length && root.querySelectorAll(".step").length !== stepCount) { buildStages(st); }
    st.stages.forEach(function (stage) {
      var section = root.querySelector('.stage[data-stage="' + stage.index + '"]');
      if (section) {
        setStateClass(section, "stage-", stage.state);
        setBadge(section.querySelector(".stage-head .state"), stage.state);
      }
      stage.steps.forEach(function (step) {
        var box = findStep(stage.index, step.index);
        if (!box) { return; }
        setStateClass(box, "step-", step.state);
        box.setAttribute("data-state", step.state);
        setBadge(box.querySelector(".state"), step.state);
        box.querySelector(".duration").textContent = formatDuration(step.duration);
        setText(box.querySelector(".exit-code"), step.exit_code === null ? "" : "exit " + step.exit_code);
        setText(box.querySelector(".step-reason"), step.reason);
        if (openStep && openStep.stage === stage.index && openStep.step === step.index) {
          setBadge(document.getElementById("log-state"), step.state);
        }
      });
    });
  }

  function poll() {
    fetch(statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) {
        if (!response.ok) { throw new Error("status " + response.status); }
        return response.json();
      })
      .then(function (st) {
        applyStatus(st);
        if (!st.final) { window.setTimeout(poll, POLL_MS); }
      })
      .catch(function () { window.setTimeout(poll, 3 * POLL_MS); });
  }

  // --- the log view --------------------------------------------------------------------------------
  var panel = document.getElementById("log");
  var lines = document.getElementById("log-lines");
  var followButton = document.getElementById("log-follow");
  var logStatus = document.getElementById("log-status");
  var openStep = null;   // {stage, step, source: EventSource|null, token}
  var ansiState = DevopsAnsi.initialState();
  var pendingRaw = "";   // the last, unfinished line (re-rendered as it grows)
  var pendingEl = null;
  var lineCount = 0;
  var stick = true;

  function atBottom() {
    return lines.scrollTop + lines.clientHeight >= lines.scrollHeight - 8;
  }

  function scrollIfSticky() {
    if (stick) { lines.scrollTop = lines.scrollHeight; }
  }

  lines.addEventListener("scroll", function () {
    stick = atBottom();
    followButton.hidden = stick;
  });
  followButton.addEventListener("click", function () {
    stick = true;
    followButton.hidden = true;
    scrollIfSticky();
  });

  function renderLine(raw, state) {
    // A carriage return redraws the line (progress bars): keep what was drawn last.
    var text = raw.replace(/\r+$/, "");
    var cut = text.lastIndexOf("\r");
    if (cut >= 0) { text = text.slice(cut + 1); }
    var result = DevopsAnsi.toHtml(text, state);
    var el = make("div", "ln");
    el.innerHTML = result.html || "\u200b";  // html is escaped by DevopsAnsi; keep empty lines visible
    return { el: el, state: result.state };
  }

  function appendText(text) {
    var parts = (pendingRaw + text).split("\n");
    pendingRaw = parts.pop();
    if (pendingEl) { pendingEl.remove(); pendingEl = null; }
    var fragment = document.createDocumentFragment();
    parts.forEach(function (raw) {
      var rendered = renderLine(raw, ansiState);
      ansiState = rendered.state;
      fragment.appendChild(rendered.el);
      lineCount += 1;
    });
    if (pendingRaw) {
      pendingEl = renderLine(pendingRaw, ansiState).el;
      pendingEl.classList.add("ln-pending");
      fragment.appendChild(pendingEl);
    }
    lines.appendChild(fragment);
    while (lineCount > MAX_LINES && lines.firstChild) {
      lines.removeChild(lines.firstChild);
      lineCount -= 1;
      lines.classList.add("log-trimmed");
    }
    scrollIfSticky();
  }

  function resetView() {
    lines.textContent = "";
    lines.classList.remove("log-trimmed");
    ansiState = DevopsAnsi.initialState();
    pendingRaw = "";
    pendingEl = null;
    lineCount = 0;
    stick = true;
    followButton.hidden = true;
  }

  function logUrl(stage, step) {
    return logBase + stage + "/" + step + "/";
  }

  function closeLog(keepPanel) {
    if (openStep && openStep.source) { openStep.source.close(); }
    root.querySelectorAll(".step.selected").forEach(function (el) {
      el.classList.remove("selected");
      el.setAttribute("aria-pressed", "false");
    });
    openStep = null;
    if (!keepPanel) {
      panel.hidden = true;
      if (window.location.hash.indexOf("#log-") === 0) { history.replaceState(null, "", window.location.pathname); }
    }
  }

  function follow(session, offset) {
    var source = new EventSource(logUrl(session.stage, session.step) + "?follow=1&offset=" + offset);
    session.source = source;
    session.offset = offset;
    logStatus.textContent = "following live…";
    source.addEventListener("log", function (event) {
      if (openStep !== session) { return; }
      appendText(event.data);
      if (event.lastEventId) { session.offset = parseInt(event.lastEventId, 10); }
    });
    source.addEventListener("state", function (event) {
      if (openStep !== session) { return; }
      var data = JSON.parse(event.data);
      setBadge(document.getElementById("log-state"), data.state);
    });
    source.addEventListener("end", function (event) {
      source.close();
      if (openStep !== session) { return; }
      var data = JSON.parse(event.data);
      if (typeof data.next_offset === "number") { session.offset = data.next_offset; }
      if (data.state && FINAL[data.state]) {
        logStatus.textContent = data.complete ? "" : data.reason;
      } else {
        // The follow stopped (time limit, a database hiccup) but the step goes on: resume.
        logStatus.textContent = "reconnecting…";
        window.setTimeout(function () { if (openStep === session) { follow(session, session.offset); } }, 1000);
      }
    });
    source.onerror = function () {
      if (openStep !== session) { source.close(); return; }
      // The browser reconnects by itself (with Last-Event-ID) unless the answer was an error page.
      logStatus.textContent = source.readyState === EventSource.CLOSED ? "the log cannot be read now" : "reconnecting…";
    };
  }

  function fetchPlain(session, offset, attempts) {
    fetch(logUrl(session.stage, session.step) + "?offset=" + offset, {
      credentials: "same-origin", headers: { Accept: "text/plain" }, cache: "no-store"
    })
      .then(function (response) {
        if (!response.ok) { throw new Error("the log answered " + response.status); }
        var next = parseInt(response.headers.get("X-Log-Next-Offset") || String(offset), 10);
        var complete = response.headers.get("X-Log-Complete") === "true";
        return response.text().then(function (text) { return { text: text, next: next, complete: complete }; });
      })
      .then(function (page) {
        if (openStep !== session) { return; }
        if (page.text) { appendText(page.text); }
        if (page.complete) {
          logStatus.textContent = lineCount || pendingRaw ? "" : "this step wrote nothing";
        } else if (page.text) {
          fetchPlain(session, page.next, 0);
        } else if (attempts < 10) {
          logStatus.textContent = "waiting for the log to be stored…";
          window.setTimeout(function () { fetchPlain(session, page.next, attempts + 1); }, 1000);
        } else {
          logStatus.textContent = "the log was not stored completely";
        }
      })
      .catch(function (error) {
        if (openStep === session) { logStatus.textContent = String(error.message || error); }
      });
  }

  function openLog(stage, step) {
    closeLog(true);
    var box = findStep(stage, step);
    if (!box) { return; }
    var session = { stage: stage, step: step, source: null, offset: 0 };
    openStep = session;
    box.classList.add("selected");
    box.setAttribute("aria-pressed", "true");
    resetView();
    panel.hidden = false;
    var info = stepStatus(stage, step);
    var state = info ? info.state : box.getAttribute("data-state");
    document.getElementById("log-title").textContent = (box.getAttribute("data-name") || "step") + " log";
    setBadge(document.getElementById("log-state"), state);
    document.getElementById("log-raw").href = logUrl(stage, step);
    history.replaceState(null, "", "#log-" + stage + "-" + step);
    logStatus.textContent = "loading…";
    if (FINAL[state]) { fetchPlain(session, 0, 0); } else { follow(session, 0); }
    if (window.matchMedia && window.matchMedia("(max-width: 40rem)").matches) {
      panel.scrollIntoView({ behavior: "smooth", block: "start" });
    }
  }

  root.addEventListener("click", function (event) {
    var box = event.target.closest ? event.target.closest(".step") : null;
    if (!box || !root.contains(box)) { return; }
    var stage = parseInt(box.getAttribute("data-stage"), 10);
    var step = parseInt(box.getAttribute("data-step"), 10);
    if (openStep && openStep.stage === stage && openStep.step === step) { return; }
    openLog(stage, step);
  });
  document.getElementById("log-close").addEventListener("click", function () { closeLog(false); });

  // --- start ---------------------------------------------------------------------------------------
  applyStatus(status);
  var wanted = /^#log-(\d+)-(\d+)$/.exec(window.location.hash);
  if (wanted) { openLog(parseInt(wanted[1], 10), parseInt(wanted[2], 10)); }
  if (!status.final) { window.setTimeout(poll, POLL_MS); }
})();
