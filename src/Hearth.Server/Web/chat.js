// Hearth's local chat page. It talks only to the server that served it (relative URLs; the page's
// Content-Security-Policy allows nothing else), streams answers from /v1/chat/completions and shows
// the route Hearth chose. Model output is written as text, never parsed as HTML.
"use strict";

/** Splits server-sent events out of `buffer`; returns the complete data payloads and the unfinished rest. */
function parseSse(buffer) {
  const events = [];
  let at;
  while ((at = buffer.indexOf("\n\n")) >= 0) {
    const block = buffer.slice(0, at);
    buffer = buffer.slice(at + 2);
    const data = block.split("\n").filter(l => l.startsWith("data: ")).map(l => l.slice(6)).join("\n");
    if (data.length > 0) events.push(data);
  }
  return { events, rest: buffer };
}

/** The message of an error answer in either shape ({"error": {"message"}} or {"error": "..."}). */
function errorMessage(status, body) {
  try {
    const e = JSON.parse(body).error;
    return `${status}: ${typeof e === "string" ? e : e.message}`;
  } catch {
    return `${status}: ${body}`;
  }
}

const state = { messages: [], controller: null };

function el(id) { return document.getElementById(id); }

function bubble(kind, text) {
  const div = document.createElement("div");
  div.className = "msg " + kind;
  div.textContent = text;
  el("log").appendChild(div);
  el("log").scrollTop = el("log").scrollHeight;
  return div;
}

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = sessionStorage.getItem("hearth-key");
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

async function loadModels() {
  const response = await fetch("/v1/models", { headers: headers() });
  if (!response.ok) { bubble("error", errorMessage(response.status, await response.text())); return; }
  const select = el("model");
  for (const m of (await response.json()).data) {
    if (m.id === "auto") continue; // already the first choice
    const option = document.createElement("option");
    option.value = m.id;
    option.textContent = m.id;
    select.appendChild(option);
  }
}

async function send(prompt) {
  state.messages.push({ role: "user", content: prompt });
  bubble("user", prompt);
  const answer = bubble("assistant", "");
  const system = el("system").value.trim();
  const body = {
    model: el("model").value,
    messages: system ? [{ role: "system", content: system }, ...state.messages] : state.messages,
    stream: true,
    temperature: Number(el("temperature").value),
  };
  if (el("json").checked) body.response_format = { type: "json_object" };
  state.controller = new AbortController();
  el("send").disabled = true;
  el("stop").disabled = false;
  let text = "";
  try {
    const response = await fetch("/v1/chat/completions", { method: "POST", headers: headers(), body: JSON.stringify(body), signal: state.controller.signal });
    if (!response.ok) {
      answer.className = "msg error";
      answer.textContent = errorMessage(response.status, await response.text());
      return;
    }
    const route = response.headers.get("x-hearth-route");
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const parsed = parseSse(buffer + decoder.decode(value, { stream: true }));
      buffer = parsed.rest;
      for (const data of parsed.events) {
        if (data === "[DONE]") continue;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message);
        const delta = chunk.choices?.[0]?.delta?.content;
        if (delta) { text += delta; answer.textContent = text; el("log").scrollTop = el("log").scrollHeight; }
      }
    }
    if (route) {
      const small = document.createElement("div");
      small.className = "route";
      small.textContent = route;
      answer.appendChild(small);
    }
  } catch (e) {
    if (e.name !== "AbortError") { answer.className = "msg error"; answer.textContent = text + "\n" + e.message; }
  } finally {
    // No answer (refused, unreachable, stopped or failed before any text): the question leaves the history too,
    // or the next request would carry two user turns in a row (templates that check alternation refuse that).
    if (text) state.messages.push({ role: "assistant", content: text });
    else state.messages.pop();
    state.controller = null;
    el("send").disabled = false;
    el("stop").disabled = true;
  }
}

if (typeof document !== "undefined") {
  document.addEventListener("DOMContentLoaded", () => {
    el("key").value = sessionStorage.getItem("hearth-key") || "";
    el("key").addEventListener("change", () => { sessionStorage.setItem("hearth-key", el("key").value); loadModels(); });
    el("ask").addEventListener("submit", e => {
      e.preventDefault();
      const prompt = el("prompt").value.trim();
      if (!prompt || state.controller) return;
      el("prompt").value = "";
      send(prompt);
    });
    el("prompt").addEventListener("keydown", e => {
      if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); el("ask").requestSubmit(); }
    });
    el("stop").addEventListener("click", () => state.controller?.abort());
    el("clear").addEventListener("click", () => { state.messages = []; el("log").replaceChildren(); });
    loadModels();
  });
}

if (typeof module !== "undefined") module.exports = { parseSse, errorMessage };
