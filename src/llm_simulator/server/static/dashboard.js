"use strict";
// llm-simulator dashboard. Polls the admin API once a second and draws its charts on
// <canvas> with the helpers of dashboard-charts.js (loaded first): no libraries, no build step,
// nothing fetched from anywhere but this server, so it works offline and under a strict
// Content-Security-Policy.
(() => {
  const POLL_MS = 1000;
  const KEY_STORAGE = "llm-simulator.admin-key";
  // The operator's endpoints, not API traffic: left out of the request counts and rate
  // (the dashboard's own polling would otherwise show up as two requests a second).
  const NOT_TRAFFIC = new Set(["health", "ready", "version", "openapi", "metrics", "admin", "dashboard", "preflight"]);
  // One color per engine deployment, in order of first appearance; the engine charts show at
  // most this many deployments (the busiest), so that lines and legend stay readable.
  const DEPLOYMENT_COLORS = ["#4aa3ff", "#3fb950", "#d29922", "#a371f7", "#39c5cf", "#f778ba"];
  const ENGINE_ROWS_MAX = 200;

  const $ = (id) => document.getElementById(id);

  const state = {
    history: [], // one point per poll: {t, rate, errors, streams, requests, lag, emit}
    engineHistory: [], // one point per poll with engines: {t, by: {deployment: {running, waiting, kv}}}
    engineColors: new Map(), // deployment → color, kept for the page's life
    last: null, // the previous poll's totals, for the rates: {t, total, errors, since}
    stats: null, // the last /admin/stats
    data: null, // the last /dashboard/data
    polls: 0,
    timer: 0,
    inFlight: false,
    presetsShown: "",
  };

  // -- the admin API ---------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  function adminKey() {
    try {
      return window.sessionStorage.getItem(KEY_STORAGE) || "";
    } catch (_) {
      return ""; // storage disabled: the page still works without auth
    }
  }

  async function api(method, path, body) {
    const headers = {};
    const key = adminKey();
    if (key) headers.Authorization = "Bearer " + key;
    const init = { method, headers, cache: "no-store", credentials: "same-origin" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    let payload = null;
    try {
      payload = await response.json();
    } catch (_) {
      payload = null;
    }
    if (!response.ok) {
      const error = payload && payload.error;
      // OpenAI-shaped errors carry error.message; keep anything else readable too.
      const message = error && typeof error.message === "string" ? error.message : response.statusText;
      throw new ApiError(response.status, message);
    }
    return payload;
  }

  async function poll() {
    window.clearTimeout(state.timer);
    if (state.inFlight) return; // the poll in flight schedules the next one
    state.inFlight = true;
    try {
      const [stats, data] = await Promise.all([api("GET", "/admin/stats"), api("GET", "/dashboard/data")]);
      state.polls += 1;
      ingest(stats, data);
      setConnection("live");
      render();
    } catch (error) {
      showFailure(error);
    } finally {
      state.inFlight = false;
      state.timer = window.setTimeout(poll, POLL_MS);
    }
  }

  function describe(error) {
    if (error instanceof ApiError) return `${error.status}: ${error.message}`;
    return "the simulator did not answer";
  }

  function showFailure(error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
      setConnection("refused");
      let hint;
      if (error.status === 401) {
        hint = "Authentication is on: enter a key with the admin role above.";
      } else if (adminKey()) {
        hint = "The key in use may lack the admin role: enter an admin key above.";
      } else {
        const port = window.location.port ? ":" + window.location.port : "";
        const at = (host) => `${window.location.protocol}//${host}${port}/dashboard`;
        hint =
          "With authentication off the admin API answers only this machine: open the dashboard " +
          `as ${at("localhost")} or ${at("127.0.0.1")} there, or turn auth on and use an admin key.`;
      }
      banner(`The admin API refused the dashboard (${error.status}): ${error.message} ${hint}`);
    } else if (error instanceof ApiError) {
      setConnection("error");
      banner(`The admin API answered ${describe(error)}. Retrying every second.`);
    } else {
      setConnection("offline");
      banner(`Cannot reach the simulator at ${window.location.origin}: it may be stopped or restarting. Retrying every second.`);
    }
  }

  function banner(text) {
    const el = $("banner");
    if (text) {
      el.textContent = text;
      el.hidden = false;
    } else {
      el.hidden = true;
      el.textContent = "";
    }
  }

  function setConnection(kind) {
    document.body.dataset.state = kind;
    document.body.dataset.polls = String(state.polls);
    const pill = $("conn");
    const labels = { live: "live", refused: "refused", error: "error", offline: "offline" };
    pill.textContent = labels[kind] || kind;
    pill.className = "pill " + (kind === "live" ? "pill-ok" : "pill-bad");
    if (kind === "live") banner("");
  }

  // -- folding a poll into the history ----------------------------------------------------

  function ingest(stats, data) {
    const now = Date.now() / 1000;
    let total = 0;
    for (const row of stats.requests) {
      if (!NOT_TRAFFIC.has(row.endpoint) && row.provider !== "cors") total += row.count;
    }
    const errors = sum(stats.errors.map((row) => row.count));
    const last = state.last;
    let rate = null;
    let errorRate = null;
    // After a statistics reset (a new "since") the totals restart: skip one rate point.
    if (last && last.since === stats.since && now > last.t) {
      rate = Math.max(0, (total - last.total) / (now - last.t));
      errorRate = Math.max(0, (errors - last.errors) / (now - last.t));
    }
    state.last = { t: now, total, errors, since: stats.since };
    const late = stats.emit_error && stats.emit_error.late;
    state.history.push({
      t: now,
      rate,
      errors: errorRate,
      streams: stats.active_streams,
      requests: activeRequests(stats),
      lag: typeof stats.event_loop_lag_last_ms === "number" ? stats.event_loop_lag_last_ms : null,
      emit: late && late.count ? late.p99 : null,
    });
    while (state.history.length && state.history[0].t < now - HISTORY_S - 2) state.history.shift();
    const engines = data.engines || [];
    if (engines.length) state.engineHistory.push({ t: now, by: byDeployment(engines) });
    while (state.engineHistory.length && state.engineHistory[0].t < now - HISTORY_S - 2) state.engineHistory.shift();
    state.stats = stats;
    state.data = data;
    state.totals = { total, errors, rate };
  }

  // Per deployment: requests running and waiting over its replicas, and KV-cache usage as
  // the share of all its replicas' blocks in use (0–1).
  function byDeployment(rows) {
    const by = {};
    for (const row of rows) {
      const d = by[row.deployment] || (by[row.deployment] = { running: 0, waiting: 0, used: 0, blocks: 0 });
      d.running += row.running;
      d.waiting += row.waiting;
      d.used += row.kv_usage * row.kv_blocks;
      d.blocks += row.kv_blocks;
    }
    for (const d of Object.values(by)) d.kv = d.blocks ? d.used / d.blocks : 0;
    return by;
  }

  // The snapshot is taken while /admin/stats itself is in flight: do not count that one.
  function activeRequests(stats) {
    return Math.max(0, stats.active_requests - 1);
  }

  function setText(id, text, value) {
    const el = $(id);
    el.textContent = text;
    if (value !== undefined) el.dataset.value = String(value);
  }

  // -- the page ----------------------------------------------------------------------------

  // The q-quantile of bucketed values, interpolated linearly inside its bucket; the top
  // bucket answers the largest value seen (or its lower edge when that is unknown).
  function quantile(edges, counts, q, largest) {
    const total = sum(counts);
    if (!total) return null;
    const rank = q * total;
    let below = 0;
    for (let i = 0; i < counts.length; i++) {
      const c = counts[i];
      if (c && below + c >= rank) {
        if (i >= edges.length) return largest || edges[edges.length - 1];
        const lo = i ? edges[i - 1] : 0;
        const estimate = lo + ((edges[i] - lo) * (rank - below)) / c;
        return largest ? Math.min(largest, estimate) : estimate;
      }
      below += c;
    }
    return largest;
  }

  function modelKey(row) {
    return `${row.provider}/${row.model}`;
  }

  function selectedHistogram(histogram, selected, rows, field) {
    const counts = new Array(histogram.edges_ms.length + 1).fill(0);
    for (const series of histogram.series) {
      if (selected && modelKey(series) !== selected) continue;
      series.counts.forEach((c, i) => {
        counts[i] += c;
      });
    }
    let largest = 0;
    for (const row of rows) {
      if (!selected || modelKey(row) === selected) largest = Math.max(largest, row[field].max);
    }
    return { edges: histogram.edges_ms, counts, largest };
  }

  function summaryText(h) {
    const n = sum(h.counts);
    if (!n) return "no data yet";
    const p = (q) => fmtMs(quantile(h.edges, h.counts, q, h.largest));
    return `n ${fmtInt(n)} · p50 ${p(0.5)} · p90 ${p(0.9)} · p99 ${p(0.99)}`;
  }

  function errorColor(type) {
    if (type.includes("rate_limit")) return COLORS.warn;
    if (type === "client_closed") return COLORS.muted;
    if (type.includes("auth") || type.includes("permission")) return COLORS.violet;
    return COLORS.bad;
  }

  function render() {
    const stats = state.stats;
    const data = state.data;
    if (!stats || !data) return;
    const totals = state.totals;
    const h = state.history;

    setText("total-requests", fmtInt(totals.total), totals.total);
    setText("request-rate", totals.rate === null ? "–" : totals.rate.toFixed(1), totals.rate === null ? "" : totals.rate);
    setText("total-errors", fmtInt(totals.errors), totals.errors);
    setText("active-streams", fmtInt(stats.active_streams), stats.active_streams);
    setText("active-requests", fmtInt(activeRequests(stats)), activeRequests(stats));
    const queue = stats.queue || { running: 0, waiting: 0 };
    setText("queue", `${fmtInt(queue.running)} / ${fmtInt(queue.waiting)}`);
    const late = stats.emit_error.late;
    const early = stats.emit_error.early;
    setText("emit-p99", late.count ? fmtMs(late.p99) : "–", late.count ? late.p99 : "");
    setText("loop-lag", fmtMs(stats.event_loop_lag_last_ms));
    $("since").textContent = "statistics since " + new Date(stats.since * 1000).toLocaleString();
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();

    const series = (field) => h.map((p) => ({ t: p.t, v: p[field] }));
    drawLines(
      $("chart-rate"),
      [
        { label: "requests/s", color: COLORS.accent, points: series("rate") },
        { label: "errors/s", color: COLORS.bad, points: series("errors") },
      ],
      (v) => v.toFixed(1),
    );
    drawLines(
      $("chart-active"),
      [
        { label: "streams", color: COLORS.ok, points: series("streams") },
        { label: "requests", color: COLORS.violet, points: series("requests") },
      ],
      (v) => fmtInt(v),
    );

    const rows = stats.models || [];
    updateModelChoice(rows);
    const selected = $("hist-model").value;
    const ttft = selectedHistogram(data.ttft, selected, rows, "ttft_ms");
    const itl = selectedHistogram(data.itl, selected, rows, "itl_ms");
    $("ttft-summary").textContent = summaryText(ttft);
    $("itl-summary").textContent = summaryText(itl);
    drawHistogram($("chart-ttft"), ttft.edges, ttft.counts, COLORS.accent, "no streamed responses yet");
    drawHistogram($("chart-itl"), itl.edges, itl.counts, COLORS.ok, "no inter-token gaps yet");

    const byType = new Map();
    for (const row of stats.errors) {
      const label = `${row.error_type} (${row.provider})`;
      byType.set(label, { label, value: (byType.get(label) || { value: 0 }).value + row.count, color: errorColor(row.error_type) });
    }
    drawBars(
      $("chart-errors"),
      [...byType.values()].sort((a, b) => b.value - a.value),
      "no errors",
    );

    $("timing-summary").textContent =
      `emit late p50 ${fmtMs(late.count ? late.p50 : null)} · p99 ${fmtMs(late.count ? late.p99 : null)} · ` +
      `max ${fmtMs(late.count ? late.max : null)}; early p99 ${fmtMs(early.count ? early.p99 : null)} · ` +
      `loop lag p99 ${fmtMs(stats.event_loop_lag_ms.count ? stats.event_loop_lag_ms.p99 : null)}`;
    drawLines(
      $("chart-timing"),
      [
        { label: "event-loop lag", color: COLORS.warn, points: series("lag") },
        { label: "emit error p99", color: COLORS.violet, points: series("emit") },
      ],
      (v) => fmtMs(v),
    );

    renderModels(rows);
    renderEngine(data.engines || []);
    renderChaos(data, stats);
  }

  function updateModelChoice(rows) {
    const select = $("hist-model");
    const keys = rows.map(modelKey);
    const shown = [...select.options].slice(1).map((o) => o.value);
    if (keys.join("\n") === shown.join("\n")) return;
    const current = select.value;
    while (select.options.length > 1) select.remove(1);
    for (const key of keys) {
      const option = document.createElement("option");
      option.value = key;
      option.textContent = key;
      select.appendChild(option);
    }
    select.value = keys.includes(current) ? current : "";
  }

  function cell(text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  function renderModels(rows) {
    const body = $("models").tBodies[0];
    const fresh = document.createElement("tbody");
    if (!rows.length) {
      const tr = document.createElement("tr");
      const td = cell("no generation requests yet", "muted");
      td.colSpan = 9;
      tr.appendChild(td);
      fresh.appendChild(tr);
    }
    for (const row of rows) {
      const tr = document.createElement("tr");
      // textContent only: model names come from clients' requests and must never become markup.
      tr.append(
        cell(row.provider),
        cell(row.model),
        cell(fmtInt(row.requests)),
        cell(fmtInt(row.errors), row.errors ? "bad" : ""),
        cell(row.ttft_ms.count ? fmtMs(row.ttft_ms.p50) : "–"),
        cell(row.ttft_ms.count ? fmtMs(row.ttft_ms.p99) : "–"),
        cell(row.itl_ms.count ? fmtMs(row.itl_ms.p50) : "–"),
        cell(row.itl_ms.count ? fmtMs(row.itl_ms.p99) : "–"),
        cell(fmtInt(row.output_tokens)),
      );
      fresh.appendChild(tr);
    }
    body.replaceWith(fresh);
  }

  // -- the load-aware engine -----------------------------------------------------------------

  function deploymentColor(name) {
    let color = state.engineColors.get(name);
    if (!color) {
      color = DEPLOYMENT_COLORS[state.engineColors.size % DEPLOYMENT_COLORS.length];
      state.engineColors.set(name, color);
    }
    return color;
  }

  // A legend's name for an engine key: a model's own instance of the default deployment
  // ("deployment/model") goes by its model, since the deployment part is the same for all.
  function shortName(name) {
    return name.slice(name.lastIndexOf("/") + 1);
  }

  function fmtPercent(share) {
    const pct = 100 * share;
    if (pct > 0 && pct < 0.1) return "<0.1%"; // in use, if only a little: not "0%"
    return pct.toFixed(pct < 10 ? 1 : 0) + "%";
  }

  // Shown only once an engine has served a request (engines are created on first use).
  function renderEngine(rows) {
    const panel = $("engine-panel");
    panel.dataset.replicas = String(rows.length);
    panel.hidden = rows.length === 0;
    if (!rows.length) return;
    const now = byDeployment(rows);
    const names = Object.keys(now).sort();
    for (const name of names) deploymentColor(name);
    // The busiest deployments now (then by name) when there are more than the charts can tell apart.
    const shown = [...names]
      .sort((a, b) => now[b].running + now[b].waiting - (now[a].running + now[a].waiting) || (a < b ? -1 : 1))
      .slice(0, DEPLOYMENT_COLORS.length)
      .sort();
    const points = (name, field, scale) =>
      state.engineHistory.map((p) => ({ t: p.t, v: p.by[name] ? p.by[name][field] * scale : null }));
    const queue = [];
    const kv = [];
    for (const name of shown) {
      const color = deploymentColor(name);
      queue.push({ label: shortName(name), color, points: points(name, "running", 1) });
      queue.push({ label: shortName(name), color, dash: [4, 3], points: points(name, "waiting", 1) });
      kv.push({ label: shortName(name), color, points: points(name, "kv", 100) });
    }
    const more = names.length > shown.length ? ` · the ${shown.length} busiest of ${names.length} shown` : "";
    $("engine-kv-hint").textContent = "per deployment, over its replicas (%)" + more;
    drawLines($("chart-engine-queue"), queue, (v) => fmtInt(v), {
      whole: true,
      legend: shown.map((name) => ({
        color: deploymentColor(name),
        label: `${shortName(name)} ${fmtInt(now[name].running)} / ${fmtInt(now[name].waiting)}`,
      })),
    });
    // Scaled to the data, not to 100%: a light load's few blocks stay visible (the axis says how full).
    drawLines($("chart-engine-kv"), kv, (v) => fmtPercent(v / 100));

    const replicas = rows.length;
    $("engine-summary").textContent =
      `${names.length} deployment${names.length === 1 ? "" : "s"} · ${replicas} replica${replicas === 1 ? "" : "s"}` +
      (replicas > ENGINE_ROWS_MAX ? ` (first ${ENGINE_ROWS_MAX} listed)` : "") +
      " · this worker's engines";
    const fresh = document.createElement("tbody");
    for (const row of rows.slice(0, ENGINE_ROWS_MAX)) {
      const tr = document.createElement("tr");
      tr.dataset.deployment = row.deployment;
      tr.dataset.replica = String(row.replica);
      const refused = row.rejected + row.timed_out;
      const stepped = row.steps > 0;
      tr.append(
        cell(row.deployment),
        cell(String(row.replica)),
        cell(fmtInt(row.running)),
        cell(fmtInt(row.waiting)),
        cell(fmtPercent(row.kv_usage)),
        cell(fmtPercent(row.prefix_cache_hit_rate)),
        cell(fmtInt(row.preemptions), row.preemptions ? "warn" : ""),
        cell(fmtInt(refused), refused ? "bad" : ""),
        cell(fmtInt(row.steps)),
        cell(stepped ? fmtMs(row.mean_step_ms) : "–"),
        cell(stepped ? row.mean_batch_size.toFixed(1) : "–"),
      );
      fresh.appendChild(tr);
    }
    $("engine-replicas").tBodies[0].replaceWith(fresh);
  }

  function renderChaos(data, stats) {
    const chaos = data.chaos;
    document.body.dataset.chaos = chaos.enabled ? "on" : "off";
    document.body.dataset.preset = chaos.preset || "";
    const pill = $("chaos-pill");
    let what = "";
    if (chaos.enabled) {
      const parts = [];
      if (chaos.preset) parts.push("preset " + chaos.preset);
      if (chaos.rules) parts.push(`${chaos.rules} rule${chaos.rules === 1 ? "" : "s"}`);
      if (chaos.scenarios) parts.push(`${chaos.scenarios} scenario${chaos.scenarios === 1 ? "" : "s"}`);
      if (chaos.default_mix) parts.push("default mix");
      what = parts.join(", ");
      pill.textContent = "chaos: on" + (what ? " · " + what : "");
      pill.className = "pill pill-bad";
    } else {
      pill.textContent = "chaos: off" + (chaos.preset ? ` (preset ${chaos.preset} kept)` : "");
      pill.className = "pill pill-ok";
    }
    $("chaos-detail").textContent = chaos.enabled
      ? `probability factor ×${chaos.probability_in_force}`
      : "failures are injected only on request (x-simulator-chaos header)";

    const presetKey = data.presets.join(",");
    const holder = $("preset-buttons");
    if (state.presetsShown !== presetKey) {
      holder.replaceChildren();
      for (const name of data.presets) {
        const button = document.createElement("button");
        button.type = "button";
        button.dataset.preset = name;
        button.textContent = name.replace(/_/g, " ");
        button.addEventListener("click", () =>
          act(`Preset ${name}`, "PUT", "/admin/chaos", { enabled: true, preset: name }),
        );
        holder.appendChild(button);
      }
      state.presetsShown = presetKey;
    }
    for (const button of holder.querySelectorAll("button")) {
      button.classList.toggle("active", chaos.enabled && chaos.preset === button.dataset.preset);
    }
    $("chaos-enable").disabled = chaos.enabled;
    $("chaos-disable").disabled = !chaos.enabled;
    $("chaos-clear-preset").disabled = !chaos.preset;

    const list = $("chaos-injections");
    const entries = Object.entries(stats.chaos_injections || {}).sort((a, b) => b[1] - a[1]);
    list.replaceChildren();
    if (!entries.length) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = "none";
      list.appendChild(li);
    }
    for (const [type, count] of entries) {
      const li = document.createElement("li");
      const name = document.createElement("span");
      name.textContent = type;
      const value = document.createElement("span");
      value.textContent = fmtInt(count);
      li.append(name, value);
      list.appendChild(li);
    }
  }

  function note(text, bad) {
    const el = $("action-status");
    el.textContent = text;
    el.className = bad ? "bad" : "muted";
  }

  async function act(label, method, path, body) {
    const buttons = document.querySelectorAll("#chaos-card button, #stats-reset");
    buttons.forEach((b) => {
      b.dataset.wasDisabled = b.disabled ? "1" : "";
      b.disabled = true;
    });
    try {
      await api(method, path, body);
      note(`${label}: done.`, false);
    } catch (error) {
      note(`${label} failed (${describe(error)}).`, true);
    } finally {
      buttons.forEach((b) => {
        b.disabled = b.dataset.wasDisabled === "1";
      });
      poll(); // show the new state now rather than at the next tick
    }
  }

  function wire() {
    $("chaos-enable").addEventListener("click", () => act("Enable chaos", "POST", "/admin/chaos/enable"));
    $("chaos-disable").addEventListener("click", () => act("Disable chaos", "POST", "/admin/chaos/disable"));
    $("chaos-clear-preset").addEventListener("click", () => act("Clear preset", "PUT", "/admin/chaos", { preset: null }));
    $("stats-reset").addEventListener("click", () => act("Reset statistics", "POST", "/admin/stats/reset"));
    $("hist-model").addEventListener("change", render);
    const input = $("admin-key");
    input.placeholder = adminKey() ? "key set for this tab" : "only when auth is on";
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      try {
        if (input.value) window.sessionStorage.setItem(KEY_STORAGE, input.value);
      } catch (_) {
        note("This browser refuses session storage: the key cannot be kept.", true);
      }
      input.value = "";
      input.placeholder = adminKey() ? "key set for this tab" : "only when auth is on";
      poll();
    });
    $("key-forget").addEventListener("click", () => {
      try {
        window.sessionStorage.removeItem(KEY_STORAGE);
      } catch (_) {
        // nothing was stored
      }
      input.placeholder = "only when auth is on";
      poll();
    });
    let pending = 0;
    window.addEventListener("resize", () => {
      window.cancelAnimationFrame(pending);
      pending = window.requestAnimationFrame(render);
    });
  }

  wire();
  poll();
})();
