// The dashboard of scrapy-webservice: polls the service's own resources with
// the token and draws each running spider. No library, no build step.
//
// Data: GET enginestatus (state, queues, in flight) and JSON-RPC
// stats.get_rates() (counts and rates); actions: JSON-RPC crawler/engine
// pause / unpause / close_spider. The token comes from the URL fragment
// (#token=..., which never reaches a server and is removed from the address
// bar at once) or from the form, lives in sessionStorage, and goes out only
// in the Authorization header of requests to this service. No cookies.
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
  };

  class AuthError extends Error {}
  class ApiError extends Error {}

  let memoryToken = null; // when sessionStorage is not available
  let generation = 0; // bumped whenever the token changes: late answers are dropped
  let timer = null;
  let busy = false;
  let again = false;
  let failures = 0;
  let rpcId = 0;
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

  async function request(path, init) {
    const token = getToken();
    if (!token) throw new AuthError("no token");
    const headers = new Headers(init.headers || {});
    headers.set("Authorization", `Bearer ${token}`);
    headers.set("Accept", "application/json");
    const options = {
      ...init,
      headers,
      cache: "no-store",
      credentials: "omit",
      redirect: "error",
      referrerPolicy: "no-referrer",
    };
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
    if (body && body.error) throw new ApiError(body.error.message || "JSON-RPC error");
    return body ? body.result : null;
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
      const [status, rates] = await Promise.all([
        getJson("enginestatus"),
        rpc("stats", "get_rates", []),
      ]);
      if (mine !== generation) return;
      failures = 0;
      showCrawls();
      render(status || {}, rates || {});
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

  // -- screens --------------------------------------------------------------------------

  function showLogin(message) {
    stop();
    clearSpiders();
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

  function render(status, rates) {
    const names = [...new Set([...Object.keys(status), ...Object.keys(rates)])].sort();
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

    root.append(head, metrics, figure, statuses, actions, message);
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
    };
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

  window.addEventListener("hashchange", () => {
    if (tokenFromFragment()) start();
  });

  tokenFromFragment();
  if (getToken()) start();
  else showLogin("");
})();
