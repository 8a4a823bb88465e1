// The livebg page: upload, pick a background, follow the job, compare, download.
// Plain JavaScript, nothing from elsewhere. With a token, every call sends it as a bearer
// header (kept in this tab's sessionStorage only), so results are fetched as blobs.
"use strict";

const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem("livebg-token") || "";
let currentJob = null;
let objectUrls = [];

function headers() {
  return token ? { Authorization: "Bearer " + token } : {};
}

function say(text) { $("status").textContent = text; }
function fail(text) { $("error").textContent = text; say(""); busy(false); }

function busy(on) {
  $("start").disabled = on;
  $("cancel").classList.toggle("hidden", !on || !currentJob);
  $("progress").classList.toggle("hidden", !on);
}

async function errorText(response) {
  try {
    const body = await response.json();
    if (body && body.error) return body.error;
  } catch (e) { /* not JSON */ }
  return "the server answered " + response.status + " " + response.statusText;
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...headers(), ...(options.headers || {}) } });
  if (response.status === 401) {
    $("token-section").classList.remove("hidden");
    $("token").focus();
  }
  return response;
}

function chosenBackground(form) {
  const kind = form.querySelector("input[name=bg]:checked").value;
  if (kind === "color") return { bg: $("color").value };
  if (kind === "file") {
    const file = $("bg-file").files[0];
    if (!file) throw new Error("choose the background picture or video, or pick another background");
    return { bgFile: file };
  }
  return { bg: kind };
}

function show(container, url, isVideo) {
  container.replaceChildren();
  const element = document.createElement(isVideo ? "video" : "img");
  element.src = url;
  if (isVideo) { element.controls = true; element.muted = true; element.playsInline = true; }
  else element.alt = container.id === "before" ? "the original photo" : "the photo with its new background";
  container.appendChild(element);
}

function keepUrl(url) { objectUrls.push(url); return url; }
function releaseUrls() { objectUrls.forEach((u) => URL.revokeObjectURL(u)); objectUrls = []; }

async function start(event) {
  event.preventDefault();
  $("error").textContent = "";
  const form = $("job");
  const file = $("file").files[0];
  if (!file) { fail("Choose a photo or a video first."); $("file").focus(); return; }
  let background;
  try { background = chosenBackground(form); } catch (e) { fail(e.message); return; }
  const data = new FormData();
  data.append("file", file, file.name);
  if (background.bg) data.append("bg", background.bg);
  if (background.bgFile) data.append("bg_file", background.bgFile, background.bgFile.name);
  if (form.querySelector("input[name=speed]:checked").value === "fast") data.append("fast", "true");
  releaseUrls();
  $("result").classList.add("hidden");
  const isVideo = file.type.startsWith("video/") || /\.(mp4|mov|m4v|mkv|webm|avi)$/i.test(file.name);
  busy(true);
  if (isVideo) await startVideo(file, data); else await startPhoto(file, data);
}

async function startPhoto(file, data) {
  say("Uploading and working on the photo…");
  $("progress").removeAttribute("value");
  const response = await api("/v1/images", { method: "POST", body: data }).catch(() => null);
  if (!response) return fail("The server cannot be reached.");
  if (!response.ok) return fail(await errorText(response));
  const blob = await response.blob();
  const name = (response.headers.get("Content-Disposition") || "").match(/filename="([^"]+)"/);
  finish(file, keepUrl(URL.createObjectURL(blob)), name ? name[1] : "livebg.png", false);
}

async function startVideo(file, data) {
  say("Uploading the video…");
  $("progress").value = 0;
  const response = await api("/v1/jobs", { method: "POST", body: data }).catch(() => null);
  if (!response) return fail("The server cannot be reached.");
  if (!response.ok) {
    const retry = response.headers.get("Retry-After");
    return fail(await errorText(response) + (retry ? " (try again in " + retry + " s)" : ""));
  }
  currentJob = await response.json();
  busy(true);
  await follow(currentJob.id);
  const job = currentJob;
  currentJob = null;
  if (!job) return;
  if (job.state !== "done") {
    return fail(job.state === "cancelled" ? "Cancelled." : "The job failed: " + (job.error || job.state));
  }
  say("Downloading the result…");
  const result = await api(job.result_url);
  if (!result.ok) return fail(await errorText(result));
  finish(file, keepUrl(URL.createObjectURL(await result.blob())), job.result_name, true);
}

function describe(job) {
  if (job.state === "queued") return "Waiting for a free worker…";
  if (job.state !== "running") return "Job " + job.state + ".";
  const done = job.frames_done, total = job.frames_total;
  let text = "Working: frame " + done + (total ? " of " + total : "");
  if (job.fps) text += ", " + job.fps.toFixed(1) + " frames/s";
  if (job.eta_seconds != null) text += ", about " + Math.ceil(job.eta_seconds) + " s left";
  return text + ".";
}

// Server-sent events read through fetch (EventSource cannot send the token header).
async function follow(id) {
  const response = await api("/v1/jobs/" + id + "/events").catch(() => null);
  if (!response || !response.ok || !response.body) return poll(id);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let lastAnnounced = 0;
  for (;;) {
    const { value, done } = await reader.read().catch(() => ({ done: true }));
    if (done) break;
    buffer += value;
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const line = block.split("\n").find((l) => l.startsWith("data: "));
      if (!line) continue;
      const job = JSON.parse(line.slice(6));
      if (job.state === "deleted") { currentJob = null; return; }
      currentJob = job;
      if (job.progress != null) $("progress").value = job.progress;
      // the live region speaks at most every 5 s (the progress bar shows every frame)
      const now = Date.now();
      if (now - lastAnnounced > 5000 || job.state !== "running") { say(describe(job)); lastAnnounced = now; }
      if (["done", "failed", "cancelled"].includes(job.state)) return;
    }
  }
  if (currentJob && !["done", "failed", "cancelled"].includes(currentJob.state)) return poll(id);
}

async function poll(id) {
  for (;;) {
    const response = await api("/v1/jobs/" + id).catch(() => null);
    if (!response || !response.ok) { currentJob = null; return fail("Lost the job: " + (response ? await errorText(response) : "no answer")); }
    currentJob = await response.json();
    say(describe(currentJob));
    if (currentJob.progress != null) $("progress").value = currentJob.progress;
    if (["done", "failed", "cancelled"].includes(currentJob.state)) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function finish(file, resultUrl, name, isVideo) {
  show($("before"), keepUrl(URL.createObjectURL(file)), isVideo);
  show($("after"), resultUrl, isVideo);
  const link = $("download");
  link.href = resultUrl;
  link.download = name;
  link.textContent = "Download " + name;
  $("result").classList.remove("hidden");
  busy(false);
  say("Done: " + name + " is ready.");
  $("result-title").setAttribute("tabindex", "-1");
  $("result-title").focus();
}

async function cancel() {
  if (!currentJob) return;
  const id = currentJob.id;
  say("Cancelling…");
  await api("/v1/jobs/" + id, { method: "DELETE" }).catch(() => null);
  currentJob = { id, state: "cancelled" };
}

function setUpDrop() {
  const drop = $("drop");
  ["dragenter", "dragover"].forEach((type) => drop.addEventListener(type, (e) => { e.preventDefault(); drop.classList.add("over"); }));
  ["dragleave", "drop"].forEach((type) => drop.addEventListener(type, () => drop.classList.remove("over")));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    if (e.dataTransfer.files.length) { $("file").files = e.dataTransfer.files; say("Chosen: " + e.dataTransfer.files[0].name); }
  });
  $("file").addEventListener("change", () => { if ($("file").files[0]) say("Chosen: " + $("file").files[0].name); });
  // picking a colour or a background file selects that choice
  $("color").addEventListener("input", () => { document.querySelector("input[name=bg][value=color]").checked = true; });
  $("bg-file").addEventListener("change", () => { document.querySelector("input[name=bg][value=file]").checked = true; });
}

document.addEventListener("DOMContentLoaded", () => {
  setUpDrop();
  $("job").addEventListener("submit", start);
  $("cancel").addEventListener("click", cancel);
  $("token-save").addEventListener("click", () => {
    token = $("token").value.trim();
    sessionStorage.setItem("livebg-token", token);
    $("token-section").classList.add("hidden");
    say("Token set.");
  });
  api("/v1/models").then((r) => { if (r.status === 401) say("Enter the access token to start."); }).catch(() => {});
});
