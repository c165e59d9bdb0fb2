// The dashboard of scrapy-webservice: polls the service's own resources with
// the token and draws each running spider. No library, no build step.
//
// Data: GET enginestatus (state, queues, in flight), JSON-RPC stats.get_rates()
// (counts and rates), crawler/downloader.slots(spider), memory.usage() /
// live_refs() and stalls.recent(limit) / lag(), every REFRESH_MS; the log tail
// reads GET events?events=log,stall&level=X (Server-Sent Events, read with fetch
// so that the token goes in a header), and a stall event redraws the stalls at once.
// Actions: JSON-RPC crawler/engine pause / unpause / close_spider,
// crawler/downloader set_delay / set_concurrency / reset, crawler/scheduler
// enqueue. The token comes from the URL fragment (#token=..., which never
// reaches a server and is removed from the address bar at once) or from the
// form, lives in sessionStorage, and goes out only in the Authorization header
// of requests to this service: never in a URL. No cookies. Data from the
// service is put in the page as text (textContent), never as HTML.
"use strict";

(() => {
  const TOKEN_KEY = "scrapy-webservice-dashboard-token";
  const REFRESH_MS = 2000;
  const RETRY_MAX_MS = 10000;
  const TIMEOUT_MS = 8000;
  const CHART_SECONDS = 300; // the chart shows the last five minutes
  const RATE_WINDOW = 10; // seconds averaged for each point of the chart
  const SVG_NS = "http://www.w3.org/2000/svg";
  const CHART_W = 300;
  const CHART_H = 80;
  const NOTE_MS = 10000; // how long an action's note stays under the buttons
  const LOG_LINES = 200; // lines kept in the log tail
  const STALLS_SHOWN = 5; // the most recent stalls the stalls panel lists
  const STALL_EVENT_MS = 100; // stall events this close together make one redraw
  const STREAM_SILENCE_MS = 45000; // the service sends a keep-alive every 15 s
  // JSON-RPC error codes (docs/resources.md, "Errors").
  const INVALID_PARAMS = -32602;
  const FORBIDDEN = -32003;

  // The service root: this script is <root>/dashboard/dashboard.js.
  const SCRIPT_URL = document.currentScript ? document.currentScript.src : location.href;
  const API_ROOT = new URL("../", SCRIPT_URL);

  const $ = (id) => document.getElementById(id);
  const ui = {
    connection: $("connection"),
    forget: $("forget"),
    login: $("login"),
    loginMessage: $("login-message"),
    form: $("token-form"),
    input: $("token-input"),
    crawls: $("crawls"),
    empty: $("empty"),
    spiders: $("spiders"),
    accessNote: $("access-note"),
    rss: $("memory-rss"),
    peak: $("memory-peak"),
    tracked: $("memory-tracked"),
    refs: $("refs"),
    memoryMessage: $("memory-message"),
    stalls: $("stalls"),
    stallsWatchdog: $("stalls-watchdog"),
    stallsCount: $("stalls-count"),
    stallsLongest: $("stalls-longest"),
    stallRows: $("stall-rows"),
    stallsLag: $("stalls-lag"),
    stallsMessage: $("stalls-message"),
    logLevel: $("log-level"),
    logClear: $("log-clear"),
    logStatus: $("log-status"),
    logLines: $("log-lines"),
  };

  class AuthError extends Error {}
  class ApiError extends Error {
    constructor(message, code, data) {
      super(message);
      this.code = code; // the JSON-RPC error code, when the service answered one
      this.data = data;
    }
  }

  let memoryToken = null; // when sessionStorage is not available
  let generation = 0; // bumped whenever the token changes: late answers are dropped
  let timer = null;
  let busy = false;
  let again = false;
  let failures = 0;
  let rpcId = 0;
  // What this token may do: null (not known yet), "control" (the full token),
  // "read-only", or "unavailable" (this service has no downloader tuning).
  let access = null;
  const cards = new Map(); // spider name -> card
  const samples = new Map(); // spider name -> [{t, pages, items}], for the charts

  // -- the token ---------------------------------------------------------------

  function getToken() {
    try {
      return sessionStorage.getItem(TOKEN_KEY) || memoryToken;
    } catch {
      return memoryToken;
    }
  }

  function setToken(token) {
    memoryToken = token || null;
    try {
      if (token) sessionStorage.setItem(TOKEN_KEY, token);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch {
      // storage refused: the token lives in this page only
    }
    generation += 1;
    setAccess(null);
  }

  function tokenFromFragment() {
    if (!location.hash || location.hash.length < 2) return false;
    const params = new URLSearchParams(location.hash.slice(1));
    if (!params.has("token")) return false;
    const token = (params.get("token") || "").trim();
    params.delete("token");
    const rest = params.toString();
    replaceUrl(location.pathname + location.search + (rest ? `#${rest}` : ""));
    if (!token) return false;
    setToken(token);
    return true;
  }

  function replaceUrl(url) {
    try {
      window.history.replaceState(window.history.state, "", url);
    } catch {
      // not fatal: the token is kept anyway
    }
  }

  // -- talking to the service ----------------------------------------------------

  // The options of every request to the service: the token in the Authorization
  // header (the only place it ever goes), no cookies, no redirects, no referrer.
  function authorized(init) {
    const token = getToken();
    if (!token) throw new AuthError("no token");
    const headers = new Headers(init.headers || {});
    headers.set("Authorization", `Bearer ${token}`);
    if (!headers.has("Accept")) headers.set("Accept", "application/json");
    return {
      ...init,
      headers,
      cache: "no-store",
      credentials: "omit",
      redirect: "error",
      referrerPolicy: "no-referrer",
    };
  }

  async function request(path, init) {
    const options = authorized(init);
    if (typeof AbortSignal !== "undefined" && AbortSignal.timeout) {
      options.signal = AbortSignal.timeout(TIMEOUT_MS);
    }
    let response;
    try {
      response = await fetch(new URL(path, API_ROOT), options);
    } catch (error) {
      throw new ApiError("cannot reach the web service (has the crawl ended?)");
    }
    if (response.status === 401) throw new AuthError("token refused");
    let body = null;
    try {
      body = await response.json();
    } catch {
      // not JSON: reported below by its status
    }
    if (!response.ok) {
      const message = body && body.error && body.error.message;
      throw new ApiError(message || `HTTP ${response.status}`);
    }
    return body;
  }

  function getJson(path) {
    return request(path, { method: "GET" });
  }

  async function rpc(path, method, params) {
    rpcId += 1;
    const body = await request(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", method, params, id: rpcId }),
    });
    if (body && body.error) {
      const { message, code, data } = body.error;
      throw new ApiError(message || "JSON-RPC error", code, data);
    }
    return body ? body.result : null;
  }

  // A call whose failure shows where its data goes instead of failing the whole
  // refresh: {value} or {error}. A refused token still fails everything.
  function optional(promise) {
    return promise.then(
      (value) => ({ value }),
      (error) => {
        if (error instanceof AuthError) throw error;
        return { error };
      },
    );
  }

  // Server-Sent Events read with fetch (EventSource cannot send the token in a
  // header, and the token never goes in a URL). Calls onOpen() once connected,
  // onEvent({id, event, data}) for each event and onActivity() for every chunk
  // (keep-alives included); resolves when the service ends the stream, rejects
  // on errors (AuthError for a refused token). Abort it with `signal`.
  async function readStream(path, { signal, lastEventId, onOpen, onEvent, onActivity }) {
    const headers = { Accept: "text/event-stream" };
    if (lastEventId !== null && lastEventId !== undefined) {
      headers["Last-Event-ID"] = String(lastEventId);
    }
    let response;
    try {
      response = await fetch(new URL(path, API_ROOT), authorized({ method: "GET", headers, signal }));
    } catch (error) {
      if (signal.aborted) throw error;
      throw new ApiError("cannot reach the web service (has the crawl ended?)");
    }
    if (response.status === 401) throw new AuthError("token refused");
    if (!response.ok || !response.body) {
      let message = `HTTP ${response.status}`;
      try {
        const body = await response.json();
        message = (body && body.error && body.error.message) || message;
      } catch {
        // not JSON: the status says it
      }
      throw new ApiError(message);
    }
    onOpen();
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let id = null;
    let name = "";
    let data = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      onActivity();
      buffer += decoder.decode(value, { stream: true });
      let end = buffer.indexOf("\n");
      while (end >= 0) {
        const line = buffer.slice(0, end).replace(/\r$/, "");
        buffer = buffer.slice(end + 1);
        end = buffer.indexOf("\n");
        if (line === "") {
          if (data.length) onEvent({ id, event: name || "message", data: data.join("\n") });
          name = "";
          data = [];
          continue;
        }
        if (line.startsWith(":")) continue; // a comment: "connected", "keepalive"
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let text = colon < 0 ? "" : line.slice(colon + 1);
        if (text.startsWith(" ")) text = text.slice(1);
        if (field === "id") id = text;
        else if (field === "event") name = text;
        else if (field === "data") data.push(text);
      }
    }
  }

  // -- the loop ---------------------------------------------------------------------

  function schedule(ms) {
    clearTimeout(timer);
    timer = setTimeout(refresh, ms);
  }

  function stop() {
    clearTimeout(timer);
    timer = null;
    again = false;
  }

  async function refresh() {
    if (busy) {
      again = true;
      return;
    }
    if (!getToken()) {
      showLogin("");
      return;
    }
    busy = true;
    const mine = generation;
    let delay = REFRESH_MS;
    try {
      const [status, rates, usage, refs, stalls, probed] = await Promise.all([
        getJson("enginestatus"),
        rpc("stats", "get_rates", []),
        optional(rpc("memory", "usage", [])),
        optional(rpc("memory", "live_refs", [])),
        fetchStalls(),
        access === null ? probeAccess() : Promise.resolve(access),
      ]);
      if (mine !== generation) return;
      const names = spiderNames(status || {}, rates || {});
      const slots = await Promise.all(
        names.map((name) => optional(rpc("crawler/downloader", "slots", [name]))),
      );
      if (mine !== generation) return;
      failures = 0;
      showCrawls();
      if (access === null) setAccess(probed); // (an action may have found out meanwhile)
      render(status || {}, rates || {}, new Map(names.map((name, i) => [name, slots[i]])));
      drawMemory(usage, refs);
      drawStalls(stalls);
      if (!logStream.running) startLog();
      setConnection("ok", `Live · updated ${new Date().toLocaleTimeString()}`);
    } catch (error) {
      if (mine !== generation) return;
      if (error instanceof AuthError) {
        forgetToken(
          "The web service refused this token (401). Tokens change with each crawl" +
            " unless WEBSERVICE_TOKEN is set: get the current one with scrapy-ws token.",
        );
        return;
      }
      failures += 1;
      delay = Math.min(REFRESH_MS * 2 ** Math.min(failures - 1, 3), RETRY_MAX_MS);
      ui.crawls.classList.add("stale");
      setConnection("error", `${capitalize(error.message)} · retrying`);
    } finally {
      busy = false;
      if (getToken()) {
        if (again) {
          again = false;
          schedule(0);
        } else if (mine === generation) {
          schedule(delay);
        }
      }
    }
  }

  function refreshNow() {
    schedule(0);
  }

  // -- what the token may do --------------------------------------------------------------

  // Whether the token may call control methods, asked without doing anything: a
  // control method called with no params. The service checks the permission
  // before the params, so the read-only token gets -32003 (forbidden) and the
  // full token -32602 (invalid params), and nothing runs, nothing is logged.
  async function probeAccess() {
    try {
      await rpc("crawler/downloader", "set_delay", {});
      return "control"; // not expected: without params nothing can be set
    } catch (error) {
      if (error instanceof AuthError) throw error;
      if (error.code === INVALID_PARAMS) return "control";
      if (error.code === FORBIDDEN) return "read-only";
      if (typeof error.code === "number") return "unavailable"; // no such method here
      return null; // the service did not answer: ask again with the next refresh
    }
  }

  function setAccess(value) {
    access = value;
    document.body.dataset.access = value || "unknown";
    ui.accessNote.hidden = value !== "read-only";
    for (const card of cards.values()) card.tools.hidden = value !== "control";
  }

  // -- screens --------------------------------------------------------------------------

  function showLogin(message) {
    stop();
    stopLog();
    clearSpiders();
    clearProcess();
    ui.crawls.hidden = true;
    ui.forget.hidden = true;
    ui.login.hidden = false;
    ui.loginMessage.textContent = message || "";
    ui.loginMessage.hidden = !message;
    setConnection("", "");
    ui.input.focus();
  }

  function showCrawls() {
    ui.login.hidden = true;
    ui.crawls.hidden = false;
    ui.forget.hidden = false;
    ui.crawls.classList.remove("stale");
  }

  function forgetToken(message) {
    setToken(null);
    showLogin(message);
  }

  function start() {
    showCrawls();
    setConnection("", "Connecting…");
    refreshNow();
  }

  function setConnection(kind, text) {
    ui.connection.textContent = text;
    ui.connection.dataset.kind = kind;
  }

  // -- drawing ------------------------------------------------------------------------------

  function clearSpiders() {
    cards.clear();
    samples.clear();
    ui.spiders.replaceChildren();
    ui.empty.hidden = true;
  }

  function spiderNames(status, rates) {
    return [...new Set([...Object.keys(status), ...Object.keys(rates)])].sort();
  }

  function render(status, rates, slots) {
    const names = spiderNames(status, rates);
    for (const [name, card] of cards) {
      if (!names.includes(name)) {
        card.root.remove();
        cards.delete(name);
        samples.delete(name);
      }
    }
    for (const name of names) {
      let card = cards.get(name);
      if (!card) {
        card = makeCard(name);
        cards.set(name, card);
      }
      updateCard(card, status[name] || {}, rates[name] || (status[name] || {}).rates || {});
      drawSlots(card, slots.get(name) || {});
    }
    // Keep the cards in name order.
    for (const name of names) ui.spiders.append(cards.get(name).root);
    ui.empty.hidden = names.length > 0;
  }

  const METRICS = [
    ["pages", "Pages"],
    ["items", "Items"],
    ["pages_per_minute", "Pages/min"],
    ["items_per_minute", "Items/min"],
    ["in_flight", "In flight"],
    ["queued", "Queued"],
    ["errors", "Errors"],
    ["retries", "Retries"],
  ];

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function svg(tag, attributes) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [key, value] of Object.entries(attributes || {})) {
      node.setAttribute(key, String(value));
    }
    return node;
  }

  function makeCard(name) {
    const root = el("article", "card");
    root.dataset.spider = name;

    const head = el("header", "card-head");
    const title = el("h2", "spider-name", name);
    const state = el("span", "state");
    const elapsed = el("span", "elapsed");
    elapsed.title = "Time since the web service started watching this crawl";
    head.append(title, state, elapsed);

    const metrics = el("dl", "metrics");
    const values = {};
    for (const [key, label] of METRICS) {
      const cell = el("div", "metric");
      const value = el("dd", "", "–");
      value.dataset.metric = key;
      cell.append(el("dt", "", label), value);
      metrics.append(cell);
      values[key] = value;
    }
    values.pages_per_minute.title = "Over the last minute";
    values.items_per_minute.title = "Over the last minute";
    values.queued.title = "Requests waiting in the scheduler";
    values.in_flight.title = "Requests sent and not yet fully processed";
    values.errors.title = "ERROR log records";

    const figure = el("figure", "chart");
    const chart = svg("svg", {
      viewBox: `0 0 ${CHART_W} ${CHART_H}`,
      preserveAspectRatio: "none",
      role: "img",
      "aria-label": "Pages and items per minute over the last minutes",
    });
    for (const y of [0, CHART_H / 2, CHART_H]) {
      chart.append(
        svg("line", {
          x1: 0,
          x2: CHART_W,
          y1: y,
          y2: y,
          class: "grid",
          "vector-effect": "non-scaling-stroke",
        }),
      );
    }
    const pagesLine = svg("polyline", {
      class: "line pages",
      points: "",
      "vector-effect": "non-scaling-stroke",
    });
    const itemsLine = svg("polyline", {
      class: "line items",
      points: "",
      "vector-effect": "non-scaling-stroke",
    });
    chart.append(pagesLine, itemsLine);
    const scale = el("span", "scale");
    const caption = el("figcaption", "legend");
    const span = el("span", "span");
    caption.append(el("span", "key pages", "pages/min"), el("span", "key items", "items/min"), span);
    figure.append(chart, scale, caption);

    const statuses = el("p", "statuses");

    const actions = el("div", "actions");
    const pause = el("button", "pause", "Pause");
    const resume = el("button", "resume", "Resume");
    const stopButton = el("button", "stop danger", "Stop");
    for (const button of [pause, resume, stopButton]) button.type = "button";
    pause.title = "Take no new requests; those in flight finish";
    resume.title = "Fetch again, at once";
    stopButton.title = "Close the spider: the crawl ends";
    actions.append(pause, resume, stopButton);

    const message = el("p", "card-message");
    message.setAttribute("role", "status");

    const slots = makeSlots();
    const tools = makeTools();

    root.append(head, metrics, figure, statuses, actions, message, slots.root, tools.root);
    const card = {
      name,
      root,
      state,
      elapsed,
      values,
      pagesLine,
      itemsLine,
      scale,
      span,
      statuses,
      pause,
      resume,
      stop: stopButton,
      message,
      pending: false,
      messageState: "", // the state the action's note is about
      messageAt: 0,
      slots,
      tools: tools.root,
      tool: tools,
      tuning: false,
      enqueuing: false,
    };
    tools.root.hidden = access !== "control";
    tools.delayForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const delay = tools.delay.valueAsNumber;
      if (!Number.isFinite(delay) || delay < 0) {
        say(tools.tuneMessage, "The delay is a number of seconds, 0 or more.", "error");
        return;
      }
      tune(card, "set_delay", { delay, slot: null }, "the delay");
    });
    tools.concurrencyForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const concurrency = tools.concurrency.valueAsNumber;
      if (!Number.isInteger(concurrency) || concurrency < 1) {
        say(tools.tuneMessage, "The concurrency is a whole number, 1 or more.", "error");
        return;
      }
      tune(card, "set_concurrency", { concurrency, slot: null }, "the concurrency");
    });
    tools.reset.addEventListener("click", () => tune(card, "reset", {}, "reset"));
    tools.enqueueForm.addEventListener("submit", (event) => {
      event.preventDefault();
      enqueue(card);
    });
    pause.addEventListener("click", () => act(card, "pause", "Pausing…"));
    resume.addEventListener("click", () => act(card, "unpause", "Resuming…"));
    stopButton.addEventListener("click", () => {
      const question =
        `Stop the spider "${name}"?\n\n` +
        "Its crawl closes (finish reason: closed_by_webservice) and cannot be resumed.";
      if (window.confirm(question)) act(card, "close_spider", "Stopping…");
    });
    return card;
  }

  const SLOT_COLUMNS = [
    ["key", "Slot", "The slot's key: the host (or IP) its requests go to"],
    ["active", "Active", "Requests the downloader holds for this slot"],
    ["queued", "Queued", "Waiting in the slot's queue for their turn"],
    ["transferring", "Transferring", "Being downloaded now"],
    ["concurrency", "Concurrency", "Requests of this slot downloaded at once, at most"],
    ["delay", "Delay", "Seconds between two requests of this slot"],
  ];

  function makeSlots() {
    const root = el("section", "downloader");
    const title = el("h3", "sub", "Downloader slots");
    const wrap = el("div", "table-wrap");
    const table = el("table", "data slots");
    const headRow = el("tr");
    for (const [key, label, help] of SLOT_COLUMNS) {
      const th = el("th", key === "key" ? "" : "num", label);
      th.scope = "col";
      th.title = help;
      headRow.append(th);
    }
    const head = el("thead");
    head.append(headRow);
    const body = el("tbody");
    table.append(head, body);
    wrap.append(table);
    const note = el("p", "note slots-note");
    root.append(title, wrap, note);
    return { root, body, note };
  }

  function makeTools() {
    const root = el("section", "tools");
    const title = el("h3", "sub", "Tune and feed");

    const tuning = el("div", "tuning");
    const delayForm = el("form", "tool delay-form");
    const delay = field(delayForm, "Delay (s)", "input", "delay-input");
    delay.type = "number";
    delay.min = "0";
    delay.step = "any";
    delay.inputMode = "decimal";
    delay.required = true;
    const setDelay = el("button", "set-delay", "Set delay");
    setDelay.type = "submit";
    setDelay.title = "Seconds between requests of every slot, and of the slots made later";
    delayForm.append(setDelay);

    const concurrencyForm = el("form", "tool concurrency-form");
    const concurrency = field(concurrencyForm, "Concurrency", "input", "concurrency-input");
    concurrency.type = "number";
    concurrency.min = "1";
    concurrency.step = "1";
    concurrency.inputMode = "numeric";
    concurrency.required = true;
    const setConcurrency = el("button", "set-concurrency", "Set concurrency");
    setConcurrency.type = "submit";
    setConcurrency.title = "Requests of each slot (and of the slots made later) downloaded at once";
    concurrencyForm.append(setConcurrency);

    const reset = el("button", "reset quiet", "Reset");
    reset.type = "button";
    reset.title = "Back to the delays and concurrency the crawl started with";
    tuning.append(delayForm, concurrencyForm, reset);
    const tuneMessage = el("p", "note tune-message");
    tuneMessage.setAttribute("role", "status");

    const enqueueForm = el("form", "enqueue");
    const urls = field(enqueueForm, "URLs to crawl, one per line", "textarea", "enqueue-urls");
    urls.rows = 3;
    urls.spellcheck = false;
    urls.required = true;
    urls.placeholder = "https://example.com/page";
    const row = el("div", "enqueue-row");
    const callback = field(row, "Callback", "input", "enqueue-callback");
    callback.type = "text";
    callback.placeholder = "parse";
    callback.spellcheck = false;
    callback.autocomplete = "off";
    callback.title = "A method of the spider (parse when empty)";
    const submit = el("button", "enqueue-submit", "Schedule");
    submit.type = "submit";
    submit.title = "Add these requests to the running spider (duplicates are dropped)";
    row.append(submit);
    enqueueForm.append(row);
    const enqueueMessage = el("p", "note enqueue-message");
    enqueueMessage.setAttribute("role", "status");

    root.append(title, tuning, tuneMessage, enqueueForm, enqueueMessage);
    return {
      root,
      delayForm,
      delay,
      setDelay,
      concurrencyForm,
      concurrency,
      setConcurrency,
      reset,
      tuneMessage,
      enqueueForm,
      urls,
      callback,
      submit,
      enqueueMessage,
    };
  }

  // A labelled control appended to `parent`: <label><span>text</span><tag></label>.
  function field(parent, text, tag, className) {
    const label = el("label", "field");
    const control = el(tag, className);
    label.append(el("span", "", text), control);
    parent.append(label);
    return control;
  }

  function drawSlots(card, result) {
    const { body, note } = card.slots;
    if (result.error) {
      body.replaceChildren(emptyRow(SLOT_COLUMNS.length, "–"));
      note.textContent = `Slots not available: ${result.error.message}`;
      return;
    }
    const answer = result.value || result; // a refresh's {value}, or an action's answer
    const rows = (Array.isArray(answer.slots) ? answer.slots : []).map((slot) => {
      const row = el("tr");
      row.dataset.slot = String(slot.key);
      for (const [key] of SLOT_COLUMNS) {
        const value = slot[key];
        let text = String(value ?? "–");
        if (key === "delay") text = seconds(value);
        else if (key !== "key") text = count(value);
        const cell = el(key === "key" ? "th" : "td", key === "key" ? "" : "num", text);
        if (key === "key") cell.scope = "row";
        cell.dataset.field = key;
        row.append(cell);
      }
      return row;
    });
    body.replaceChildren(...(rows.length ? rows : [emptyRow(SLOT_COLUMNS.length, "No slot yet")]));
    const parts = [
      `New slots: delay ${seconds(answer.default_delay)}, concurrency ${count(answer.default_concurrency)}`,
      `crawl-wide limit ${count(answer.total_concurrency)}`,
    ];
    if (answer.tuned) parts.push("tuned while running");
    note.textContent = parts.join(" · ");
    note.dataset.tuned = answer.tuned ? "true" : "false";
    const tools = card.tool;
    if (document.activeElement !== tools.delay && Number.isFinite(answer.default_delay)) {
      tools.delay.placeholder = String(answer.default_delay);
    }
    if (document.activeElement !== tools.concurrency && Number.isFinite(answer.default_concurrency)) {
      tools.concurrency.placeholder = String(answer.default_concurrency);
    }
  }

  function emptyRow(columns, text) {
    const row = el("tr", "empty-row");
    const cell = el("td", "", text);
    cell.colSpan = columns;
    row.append(cell);
    return row;
  }

  function updateCard(card, status, rates) {
    const state = String(status.state || rates.state || "unknown");
    const noteOver = card.messageState !== state || Date.now() - card.messageAt > NOTE_MS;
    if (card.messageState && noteOver && !card.pending) {
      // The action's note ("Pausing: waiting for 3 requests") is over: the badge tells.
      card.message.textContent = "";
      card.messageState = "";
    }
    card.root.dataset.state = state;
    card.state.textContent = state;
    card.state.dataset.state = state;
    card.elapsed.textContent = duration(rates.elapsed);

    const lastMinute = rates.last_minute || {};
    const values = {
      pages: rates.pages,
      items: rates.items,
      pages_per_minute: lastMinute.pages_per_minute,
      items_per_minute: lastMinute.items_per_minute,
      in_flight: status.in_flight ?? rates.in_flight,
      queued: queued(status),
      errors: rates.errors,
      retries: rates.retries,
    };
    for (const [key, value] of Object.entries(values)) {
      const text = key.endsWith("_per_minute") ? rate(value) : count(value);
      if (card.values[key].textContent !== text) card.values[key].textContent = text;
    }
    card.values.errors.classList.toggle("bad", Number(values.errors) > 0);
    card.values.retries.classList.toggle("warn", Number(values.retries) > 0);
    const since = rates.since_start || {};
    card.values.pages_per_minute.title = `Over the last minute; ${rate(since.pages_per_minute)} since the start`;
    card.values.items_per_minute.title = `Over the last minute; ${rate(since.items_per_minute)} since the start`;

    const codes = Object.entries(rates.status_counts || {});
    card.statuses.textContent = codes.length
      ? `HTTP ${codes.map(([code, n]) => `${code}: ${count(n)}`).join(" · ")}`
      : "No responses yet";

    record(card.name, rates);
    drawChart(card);

    const closing = state === "closing" || state === "closed";
    card.pause.disabled = card.pending || state !== "running";
    card.resume.disabled = card.pending || !(state === "paused" || state === "pausing");
    card.stop.disabled = card.pending || closing;
    card.closing = closing;
    syncTools(card);
  }

  function syncTools(card) {
    const tools = card.tool;
    for (const button of [tools.setDelay, tools.setConcurrency, tools.reset]) {
      button.disabled = card.tuning || Boolean(card.closing);
    }
    tools.submit.disabled = card.enqueuing || Boolean(card.closing);
  }

  function queued(status) {
    // Scrapy's engine status keys: "len(engine.scheduler.mqs)", "len(engine.scheduler.dqs or [])"
    // (older Scrapy: "engine.slot.scheduler..."); their sum is what waits in the scheduler.
    let total = null;
    for (const [key, value] of Object.entries(status)) {
      if (/^len\(engine\.(_?slot\.)?scheduler\.(mqs|dqs)\b/.test(key) && typeof value === "number") {
        total = (total || 0) + value;
      }
    }
    return total;
  }

  function record(name, rates) {
    const t = Number(rates.elapsed);
    if (!Number.isFinite(t)) return;
    let points = samples.get(name);
    if (!points || (points.length && t < points[points.length - 1].t)) {
      points = []; // a new crawl under the same name
      samples.set(name, points);
    }
    if (points.length && points[points.length - 1].t === t) return;
    points.push({ t, pages: Number(rates.pages) || 0, items: Number(rates.items) || 0 });
    while (points.length && t - points[0].t > CHART_SECONDS + RATE_WINDOW) points.shift();
  }

  function series(points, key) {
    const out = [];
    let j = 0;
    for (let i = 1; i < points.length; i += 1) {
      while (points[i].t - points[j].t > RATE_WINDOW) j += 1;
      const first = j < i ? points[j] : points[i - 1];
      const seconds = points[i].t - first.t;
      if (seconds > 0) {
        out.push({ t: points[i].t, v: ((points[i][key] - first[key]) * 60) / seconds });
      }
    }
    return out;
  }

  function drawChart(card) {
    const points = samples.get(card.name) || [];
    const pages = series(points, "pages");
    const items = series(points, "items");
    const top = niceCeiling(Math.max(1, ...pages.map((p) => p.v), ...items.map((p) => p.v)));
    const end = points.length ? points[points.length - 1].t : 0;
    // The time axis grows with what this page has seen, from one minute to CHART_SECONDS.
    const seen = points.length ? end - points[0].t : 0;
    const width = Math.min(CHART_SECONDS, Math.max(60, Math.ceil(seen / 60) * 60));
    const x = (t) => (CHART_W * (t - (end - width))) / width;
    const y = (v) => CHART_H - (CHART_H * v) / top;
    const line = (data) =>
      data.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(" ");
    card.pagesLine.setAttribute("points", line(pages));
    card.itemsLine.setAttribute("points", line(items));
    card.scale.textContent = `${count(top)}/min`;
    card.span.textContent = `last ${width / 60} min, ${RATE_WINDOW} s averages`;
  }

  function niceCeiling(value) {
    const power = 10 ** Math.floor(Math.log10(value));
    for (const step of [1, 2, 2.5, 5, 10]) {
      if (value <= step * power) return step * power;
    }
    return 10 * power;
  }

  // -- actions ------------------------------------------------------------------------------

  const VERBS = { pause: "pause", unpause: "resume", close_spider: "stop" };

  async function act(card, method, doing) {
    if (card.pending) return;
    card.pending = true;
    for (const button of [card.pause, card.resume, card.stop]) button.disabled = true;
    card.message.textContent = doing;
    card.message.dataset.kind = "";
    card.messageState = "";
    const mine = generation;
    try {
      const answer = (await rpc("crawler/engine", method, [card.name])) || {};
      if (mine !== generation) return;
      card.message.textContent = describe(method, answer);
      card.messageState = answer.state || (method === "close_spider" ? "closing" : "running");
      card.messageAt = Date.now();
    } catch (error) {
      if (mine !== generation) return;
      if (error instanceof AuthError) {
        forgetToken("The web service refused this token (401): enter the current one.");
        return;
      }
      card.message.textContent = `Could not ${VERBS[method]}: ${error.message}`;
      card.message.dataset.kind = "error";
    } finally {
      card.pending = false;
      if (mine === generation) refreshNow();
    }
  }

  function describe(method, answer) {
    if (method === "close_spider") return "Stopping: the crawl is closing.";
    if (method === "unpause") return "Resumed.";
    if (answer.state === "pausing") {
      const n = answer.in_flight || 0;
      return `Pausing: waiting for ${n} request${n === 1 ? "" : "s"} in flight.`;
    }
    return "Paused.";
  }

  function say(node, text, kind) {
    node.textContent = text;
    node.dataset.kind = kind || "";
  }

  // A control call refused because the token is read-only: the controls go.
  function refused(error) {
    if (error instanceof ApiError && error.code === FORBIDDEN) {
      setAccess("read-only");
      return true;
    }
    return false;
  }

  async function tune(card, method, params, what) {
    if (card.tuning) return;
    card.tuning = true;
    syncTools(card);
    const tools = card.tool;
    say(tools.tuneMessage, method === "reset" ? "Resetting…" : `Setting ${what}…`);
    const mine = generation;
    try {
      const answer = await rpc("crawler/downloader", method, { spider: card.name, ...params });
      if (mine !== generation) return;
      drawSlots(card, answer || {});
      let text;
      if (method === "reset") text = "Back to the values the crawl started with.";
      else if (method === "set_delay") text = `Delay set to ${seconds(params.delay)} for every slot.`;
      else text = `Concurrency set to ${count(params.concurrency)} for every slot.`;
      if (answer && typeof answer.autothrottle === "string") text += ` ${answer.autothrottle}`;
      say(tools.tuneMessage, text);
      if (method === "set_delay") tools.delay.value = "";
      if (method === "set_concurrency") tools.concurrency.value = "";
    } catch (error) {
      if (mine !== generation) return;
      if (error instanceof AuthError) {
        forgetToken("The web service refused this token (401): enter the current one.");
        return;
      }
      refused(error);
      const verb = method === "reset" ? "reset" : `set ${what}`;
      say(tools.tuneMessage, `Could not ${verb}: ${error.message}`, "error");
    } finally {
      card.tuning = false;
      syncTools(card);
      if (mine === generation) refreshNow();
    }
  }

  async function enqueue(card) {
    if (card.enqueuing) return;
    const tools = card.tool;
    const urls = tools.urls.value
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter(Boolean);
    if (!urls.length) {
      say(tools.enqueueMessage, "Enter at least one URL, one per line.", "error");
      return;
    }
    const params = { spider: card.name, urls };
    const callback = tools.callback.value.trim();
    if (callback) params.callback = callback;
    card.enqueuing = true;
    syncTools(card);
    say(tools.enqueueMessage, `Scheduling ${count(urls.length)} URL${urls.length === 1 ? "" : "s"}…`);
    const mine = generation;
    try {
      const answer = (await rpc("crawler/scheduler", "enqueue", params)) || {};
      if (mine !== generation) return;
      const duplicates = Number(answer.duplicates) || 0;
      let text =
        `${count(answer.scheduled)} scheduled, ` +
        `${count(duplicates)} duplicate${duplicates === 1 ? "" : "s"}` +
        ` (callback ${answer.callback || callback || "parse"})`;
      if (answer.paused) text += "; the spider is paused: they wait until it resumes";
      say(tools.enqueueMessage, `${text}.`, "ok");
      tools.urls.value = "";
    } catch (error) {
      if (mine !== generation) return;
      if (error instanceof AuthError) {
        forgetToken("The web service refused this token (401): enter the current one.");
        return;
      }
      refused(error);
      say(tools.enqueueMessage, `Could not schedule: ${error.message}`, "error");
    } finally {
      card.enqueuing = false;
      syncTools(card);
      if (mine === generation) refreshNow();
    }
  }

  // -- memory -----------------------------------------------------------------------------------

  function drawMemory(usage, refs) {
    if (usage.error) {
      ui.rss.textContent = "–";
      ui.peak.textContent = "–";
    } else {
      const value = usage.value || {};
      ui.rss.textContent = bytes(value.rss_bytes);
      ui.peak.textContent = bytes(value.peak_rss_bytes);
    }
    const problems = [usage.error, refs.error].filter(Boolean).map((error) => error.message);
    ui.memoryMessage.textContent = problems.length ? `Not available: ${problems.join("; ")}` : "";
    ui.memoryMessage.dataset.kind = problems.length ? "error" : "";
    if (refs.error) {
      ui.tracked.textContent = "–";
      ui.refs.replaceChildren(emptyRow(3, "–"));
      return;
    }
    const list = (Array.isArray(refs.value) ? refs.value : []).slice();
    list.sort((a, b) => (Number(b.count) || 0) - (Number(a.count) || 0));
    ui.tracked.textContent = count(list.reduce((sum, ref) => sum + (Number(ref.count) || 0), 0));
    const rows = list.map((ref) => {
      const row = el("tr");
      row.dataset.class = String(ref.class);
      const name = el("th", "", String(ref.class));
      name.scope = "row";
      name.title = `${ref.module}.${ref.class}`;
      const oldest = el("td", "num", duration(ref.oldest_seconds) || "–");
      oldest.title = "Age of the oldest live one";
      row.append(name, el("td", "num", count(ref.count)), oldest);
      return row;
    });
    ui.refs.replaceChildren(...(rows.length ? rows : [emptyRow(3, "Nothing tracked is alive")]));
  }

  function clearProcess() {
    ui.rss.textContent = "–";
    ui.peak.textContent = "–";
    ui.tracked.textContent = "–";
    ui.refs.replaceChildren();
    ui.memoryMessage.textContent = "";
    clearStalls();
    ui.logLines.replaceChildren();
    ui.logStatus.textContent = "";
    logStream.lastId = null;
  }

  // -- stalls -----------------------------------------------------------------------------------

  // Where the crawl's own code blocked the reactor (stalls.recent, the watchdog of
  // WEBSERVICE_STALL_THRESHOLD) and how late the reactor ran (stalls.lag). Drawn
  // with each refresh, and at once when a stall event comes on the event stream.
  const stallView = {
    asked: 0, // numbers the fetches: an answer older than the one drawn is dropped
    drawn: 0,
    timer: null, // a redraw asked for by stall events
  };

  // {ticket, recent, lag}, each of the two a call's {value} or {error}.
  function fetchStalls() {
    stallView.asked += 1;
    const ticket = stallView.asked;
    return Promise.all([
      optional(rpc("stalls", "recent", { limit: STALLS_SHOWN })),
      optional(rpc("stalls", "lag", [])),
    ]).then(([recent, lag]) => ({ ticket, recent, lag }));
  }

  // A stall event: redraw from stalls.recent (the event alone does not say the
  // count or the longest) without waiting for the next refresh. Events replayed
  // together on a reconnection make one call.
  function stallSoon() {
    if (stallView.timer !== null) return;
    stallView.timer = setTimeout(async () => {
      stallView.timer = null;
      const mine = generation;
      try {
        const stalls = await fetchStalls();
        if (mine === generation && !ui.crawls.hidden) drawStalls(stalls);
      } catch {
        // a refused token: the refresh says so and asks for the current one
      }
    }, STALL_EVENT_MS);
  }

  function drawStalls({ ticket, recent, lag }) {
    if (ticket < stallView.drawn) return; // a newer answer is shown already
    stallView.drawn = ticket;
    if (recent.error) {
      clearStalls();
      ui.stallRows.replaceChildren(emptyRow(3, "–"));
      say(ui.stallsMessage, `Not available: ${recent.error.message}`, "error");
      return;
    }
    const value = recent.value || {};
    const threshold = value.threshold;
    const on = typeof threshold === "number" && Number.isFinite(threshold);
    const total = Number(value.count) || 0;
    ui.stalls.dataset.watchdog = on ? "on" : "off";
    ui.stallsWatchdog.textContent = on ? seconds(threshold) : "Off";
    ui.stallsWatchdog.title = on
      ? `On: a stall is the reactor blocked for more than ${seconds(threshold)}` +
        " (WEBSERVICE_STALL_THRESHOLD)"
      : "Off: WEBSERVICE_STALL_THRESHOLD is None, nothing watches the reactor";
    ui.stallsCount.textContent = on ? count(total) : "–";
    ui.stallsCount.classList.toggle("warn", total > 0);
    ui.stallsLongest.textContent = total > 0 ? seconds(value.max_seconds) : "–";
    const list = (Array.isArray(value.recent) ? value.recent : []).slice(-STALLS_SHOWN).reverse();
    const rows = list.map(stallRow);
    const none = on
      ? `No stall: the reactor never waited more than ${seconds(threshold)}`
      : "The watchdog is off";
    ui.stallRows.replaceChildren(...(rows.length ? rows : [emptyRow(3, none)]));
    if (!on) {
      say(ui.stallsMessage, "No stall is watched for: WEBSERVICE_STALL_THRESHOLD is None.");
    } else if (total > rows.length) {
      say(ui.stallsMessage, `The last ${count(rows.length)} of ${count(total)}.`);
    } else {
      say(ui.stallsMessage, "");
    }
    ui.stallsLag.textContent = describeLag(lag);
  }

  function stallRow(stall) {
    const row = el("tr");
    const seenAt = Number(stall.seen_at);
    row.dataset.seenAt = String(seenAt);
    const when = new Date(seenAt * 1000);
    const known = Number.isFinite(seenAt) && !Number.isNaN(when.getTime());
    const time = el(
      "time",
      "",
      known ? when.toLocaleTimeString(undefined, { hour12: false }) : "–",
    );
    if (known) {
      time.dateTime = when.toISOString();
      time.title = when.toLocaleString();
    }
    const timeCell = el("td", "stall-time");
    timeCell.dataset.field = "time";
    timeCell.append(time);
    const blocked = el("td", "num", seconds(stall.seconds));
    blocked.dataset.field = "seconds";
    const where = el("td", "stall-where");
    where.dataset.field = "where";
    if (stall.where) {
      where.append(el("span", "stall-place", String(stall.where)));
    } else {
      // Code that held the GIL throughout (a C extension, one long regex) and
      // returned before the watchdog's thread could look.
      where.append(el("span", "stall-place unknown", "Not seen (the GIL was held throughout)"));
    }
    if (stall.code) where.append(el("code", "stall-code", String(stall.code)));
    const stack = Array.isArray(stall.stack) ? stall.stack.map(String) : [];
    if (stack.length) where.title = `Stack, innermost last:\n${stack.join("\n")}`;
    row.append(timeCell, blocked, where);
    return row;
  }

  // stalls.lag: how late the reactor ran the watchdog's heartbeat, read from the
  // cumulative histogram as the bounds within which half and 99% of them ran.
  function describeLag(lag) {
    const value = lag && lag.value;
    const beats = value ? Number(value.count) : 0;
    if (!(beats > 0) || !Array.isArray(value.buckets)) return "";
    const bounds = value.buckets.filter(([bound]) => typeof bound === "number");
    const within = (share) => {
      const bucket = bounds.find(([, n]) => Number(n) >= share * beats);
      if (bucket) return `within ${seconds(bucket[0])}`;
      return bounds.length ? `over ${seconds(bounds[bounds.length - 1][0])}` : "–";
    };
    return (
      `Reactor lag: half the heartbeats ${within(0.5)}, 99% ${within(0.99)}` +
      ` (${count(beats)} heartbeat${beats === 1 ? "" : "s"})`
    );
  }

  function clearStalls() {
    clearTimeout(stallView.timer);
    stallView.timer = null;
    ui.stalls.dataset.watchdog = "unknown";
    ui.stallsWatchdog.textContent = "–";
    ui.stallsWatchdog.title = "";
    ui.stallsCount.textContent = "–";
    ui.stallsCount.classList.remove("warn");
    ui.stallsLongest.textContent = "–";
    ui.stallRows.replaceChildren();
    ui.stallsLag.textContent = "";
    say(ui.stallsMessage, "");
  }

  // -- the log tail -------------------------------------------------------------------------------

  // One event stream: the log records of the tail, and the stall events that
  // redraw the stalls panel.
  const logStream = {
    running: false, // a stream is open or about to be (re)opened
    controller: null,
    timer: null,
    lastId: null, // the id of the last event shown, for a reconnection to go on from
    failures: 0,
  };

  function startLog() {
    stopLog();
    logStream.running = true;
    connectLog();
  }

  function stopLog() {
    logStream.running = false;
    clearTimeout(logStream.timer);
    logStream.timer = null;
    if (logStream.controller) {
      logStream.controller.abort();
      logStream.controller = null;
    }
  }

  async function connectLog() {
    logStream.timer = null;
    if (!getToken()) return;
    const mine = generation;
    const level = ui.logLevel.value;
    const controller = new AbortController();
    logStream.controller = controller;
    let silence = null;
    const watch = (ms) => {
      clearTimeout(silence);
      silence = setTimeout(() => controller.abort(), ms);
    };
    watch(TIMEOUT_MS);
    let retry = 2000;
    try {
      // Last-Event-ID 0 at first: the service sends the recent records it kept.
      // The log records from the chosen level, and every stall (for the stalls panel).
      await readStream(`events?events=log,stall&level=${encodeURIComponent(level)}`, {
        signal: controller.signal,
        lastEventId: logStream.lastId ?? 0,
        onOpen: () => {
          logStream.failures = 0;
          setLogStatus("ok", `Live: ${level} and above.`);
        },
        onActivity: () => watch(STREAM_SILENCE_MS),
        onEvent: (event) => {
          if (mine !== generation) return;
          const id = Number(event.id);
          if (Number.isFinite(id)) {
            if (logStream.lastId !== null && id <= logStream.lastId) return; // seen already
            logStream.lastId = id;
          }
          if (event.event === "stall") {
            stallSoon();
            return;
          }
          if (event.event !== "log") return;
          let record;
          try {
            record = JSON.parse(event.data);
          } catch {
            return;
          }
          appendLog(record);
        },
      });
      // The service ended the stream (it is stopping): try again.
    } catch (error) {
      if (mine !== generation || logStream.controller !== controller) return; // replaced
      if (error instanceof AuthError) {
        forgetToken(
          "The web service refused this token (401). Tokens change with each crawl" +
            " unless WEBSERVICE_TOKEN is set: get the current one with scrapy-ws token.",
        );
        return;
      }
      logStream.failures += 1;
      retry = Math.min(2000 * 2 ** Math.min(logStream.failures - 1, 3), RETRY_MAX_MS);
      const reason = controller.signal.aborted ? "no news from the web service" : error.message;
      setLogStatus("error", `${capitalize(reason)} · reconnecting`);
    } finally {
      clearTimeout(silence);
    }
    if (mine !== generation || logStream.controller !== controller || !logStream.running) return;
    logStream.controller = null;
    logStream.timer = setTimeout(connectLog, retry);
  }

  function setLogStatus(kind, text) {
    ui.logStatus.textContent = text;
    ui.logStatus.dataset.kind = kind;
  }

  function appendLog(record) {
    const list = ui.logLines;
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 24;
    const level = String(record.level || "");
    const line = el("li", "log-line");
    line.dataset.level = level;
    const when = new Date(record.time);
    const time = el(
      "time",
      "log-time",
      Number.isNaN(when.getTime()) ? "" : when.toLocaleTimeString(undefined, { hour12: false }),
    );
    if (record.time) time.dateTime = String(record.time);
    // Spaces between the parts (not margins): the line can wrap there, and a copy reads well.
    line.append(
      time,
      " ",
      el("span", "log-level", level),
      " ",
      el("span", "log-logger", String(record.logger || "")),
      " ",
      el("span", "log-message", String(record.message ?? "")),
    );
    if (record.exception) {
      line.append(" ", el("span", "log-exception", String(record.exception)));
    }
    if (record.spider) line.title = `Spider: ${record.spider}`;
    list.append(line);
    while (list.childElementCount > LOG_LINES) list.firstElementChild.remove();
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  // -- formatting ---------------------------------------------------------------------------

  const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
  const decimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

  function count(value) {
    return typeof value === "number" && Number.isFinite(value) ? integer.format(value) : "–";
  }

  function rate(value) {
    if (typeof value !== "number" || !Number.isFinite(value)) return "–";
    return value < 10 ? decimal.format(value) : integer.format(value);
  }

  const fraction = new Intl.NumberFormat(undefined, { maximumFractionDigits: 3 });

  function seconds(value) {
    return typeof value === "number" && Number.isFinite(value) ? `${fraction.format(value)} s` : "–";
  }

  function bytes(value) {
    if (typeof value !== "number" || !Number.isFinite(value)) return "–";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let n = value;
    let unit = 0;
    while (n >= 1024 && unit < units.length - 1) {
      n /= 1024;
      unit += 1;
    }
    return `${unit ? decimal.format(n) : integer.format(n)} ${units[unit]}`;
  }

  function duration(seconds) {
    if (typeof seconds !== "number" || !Number.isFinite(seconds)) return "";
    const s = Math.floor(seconds);
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const pad = (n) => String(n).padStart(2, "0");
    if (h) return `${h}h ${pad(m)}m ${pad(s % 60)}s`;
    if (m) return `${m}m ${pad(s % 60)}s`;
    return `${s}s`;
  }

  function capitalize(text) {
    return text ? text[0].toUpperCase() + text.slice(1) : text;
  }

  // -- start ----------------------------------------------------------------------------------

  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    const token = ui.input.value.trim();
    ui.input.value = "";
    if (!token) {
      showLogin("Enter the token.");
      return;
    }
    setToken(token);
    start();
  });

  ui.forget.addEventListener("click", () => forgetToken("Token forgotten."));

  ui.logLevel.addEventListener("change", () => {
    // Another level: a new tail, from the records the service kept at that level.
    ui.logLines.replaceChildren();
    logStream.lastId = null;
    logStream.failures = 0;
    setLogStatus("", "Connecting…");
    if (getToken() && !ui.crawls.hidden) startLog();
  });

  ui.logClear.addEventListener("click", () => ui.logLines.replaceChildren());

  window.addEventListener("hashchange", () => {
    if (tokenFromFragment()) start();
  });

  tokenFromFragment();
  if (getToken()) start();
  else showLogin("");
})();
