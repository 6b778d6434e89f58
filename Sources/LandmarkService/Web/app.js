// The landmark web page: pick or drop a photo, see the landmark and the ranked index images; click a
// result to see the keypoints it shares with the photo. Plain browser JavaScript, no build step.
"use strict";

const $ = (id) => document.getElementById(id);
let photo = null;
let recognition = false;

function headers(extra) {
  const result = Object.assign({}, extra || {});
  const key = $("key").value.trim();
  if (key) result["Authorization"] = "Bearer " + key;
  return result;
}

async function call(url, options) {
  const response = await fetch(url, options);
  const text = await response.text();
  let body = null;
  try { body = JSON.parse(text); } catch (error) { body = null; }
  if (!response.ok) {
    const reason = body && body.error ? body.error : response.status + " " + response.statusText;
    throw new Error(reason);
  }
  return body;
}

function showMessage(text) {
  $("message").textContent = text || "";
  $("message").hidden = !text;
}

async function loadStatus() {
  try {
    const health = await call("/healthz");
    recognition = health.recognition;
    $("status").textContent = health.images + " images · " + health.descriptor +
      (recognition ? " · recognition on" : "");
  } catch (error) {
    $("status").textContent = "The service does not answer: " + error.message;
  }
}

function thumbnailURL(id) { return "/v1/images/" + id + "/thumbnail"; }

async function authorisedImage(img, url) {
  // Thumbnails need the API key when one is set, which an <img src> cannot send.
  if (!$("key").value.trim()) { img.src = url; return; }
  const response = await fetch(url, { headers: headers() });
  if (response.ok) img.src = URL.createObjectURL(await response.blob());
}

function showResults(results) {
  const list = $("results");
  list.replaceChildren();
  $("results-title").hidden = results.length === 0;
  results.forEach((hit, rank) => {
    const item = document.createElement("li");
    item.className = "result";
    item.dataset.id = hit.id;
    item.title = hit.image;
    const img = document.createElement("img");
    img.alt = hit.image;
    img.loading = "lazy";
    authorisedImage(img, thumbnailURL(hit.id));
    const caption = document.createElement("div");
    caption.className = "caption";
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = (rank + 1) + ". " + hit.image;
    const score = document.createElement("span");
    score.className = "score";
    score.textContent = hit.score.toFixed(3);
    caption.append(name, score);
    item.append(img, caption);
    item.addEventListener("click", () => showMatch(hit));
    list.append(item);
  });
}

function showAnswer(answer) {
  $("answer").hidden = false;
  if (answer === null) {
    $("landmark").textContent = "Recognition is off";
    $("confidence").textContent = "Start the service with --train-index to name landmarks.";
  } else if (answer.landmark === null || answer.landmark === undefined) {
    $("landmark").textContent = "No landmark recognised";
    $("confidence").textContent = "confidence " + answer.confidence.toFixed(2);
  } else {
    $("landmark").textContent = answer.landmark;
    $("confidence").textContent = "confidence " + answer.confidence.toFixed(2);
  }
}

async function search(file) {
  photo = file;
  showMessage("");
  $("preview").src = URL.createObjectURL(file);
  $("preview").hidden = false;
  $("results").replaceChildren();
  $("answer").hidden = true;
  $("status").textContent = "Searching…";
  const top = Math.max(1, Math.min(100, parseInt($("top").value, 10) || 24));
  const type = file.type || "application/octet-stream";
  try {
    const searching = call("/v1/search?top=" + top, { method: "POST", headers: headers({ "Content-Type": type }), body: file });
    const recognising = recognition
      ? call("/v1/recognize", { method: "POST", headers: headers({ "Content-Type": type }), body: file })
      : Promise.resolve(null);
    const [found, answer] = await Promise.all([searching, recognising]);
    showResults(found.results);
    showAnswer(answer);
  } catch (error) {
    showMessage(error.message);
  }
  loadStatus();
}

async function showMatch(hit) {
  if (!photo) return;
  const dialog = $("match");
  $("match-summary").textContent = "Matching with " + hit.image + "…";
  $("match-picture").removeAttribute("src");
  if (!dialog.open) dialog.showModal();
  const form = new FormData();
  form.append("image", photo, photo.name || "photo.jpg");
  try {
    const result = await call("/v1/images/" + hit.id + "/verify?picture=true", { method: "POST", headers: headers(), body: form });
    $("match-summary").textContent = hit.image + ": " + result.inliers + " inliers of " + result.matches + " matches — " +
      (result.verified ? "same scene" : "not verified" + (result.reason ? " (" + result.reason + ")" : ""));
    if (result.picture) $("match-picture").src = result.picture;
  } catch (error) {
    $("match-summary").textContent = "Cannot match: " + error.message;
  }
}

function setUp() {
  const drop = $("drop");
  const input = $("file");
  $("pick").addEventListener("click", (event) => { event.stopPropagation(); input.click(); });
  drop.addEventListener("click", () => input.click());
  drop.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") input.click(); });
  input.addEventListener("change", () => { if (input.files.length) search(input.files[0]); });
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    if (event.dataTransfer.files.length) search(event.dataTransfer.files[0]);
  });
  $("key").value = localStorage.getItem("landmark-api-key") || "";
  $("key").addEventListener("change", () => { localStorage.setItem("landmark-api-key", $("key").value); loadStatus(); });
  loadStatus();
}

setUp();
