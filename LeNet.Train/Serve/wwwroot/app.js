// The drawing page: the pad is sent to POST /api/predict as a PNG while the user draws (one request in flight at a
// time, the latest drawing sent next); during training, /api/events streams the run's curves.
"use strict";

const $ = id => document.getElementById(id);
const pad = $("pad"), ink = pad.getContext("2d");
const state = {
  drawing: false, drawn: false, busy: false, again: false, last: null, classes: [], training: false,
  shown: 0, // bumped when the pad is cleared or replaced: an answer to an older picture is dropped
};

// ---- Drawing -------------------------------------------------------------------------------------------------
function clearPad() {
  ink.fillStyle = "black";
  ink.fillRect(0, 0, pad.width, pad.height);
  state.drawn = false;
  state.shown++;
  showAnswer(null, "Draw a digit to see the prediction.");
}

function point(event) {
  const box = pad.getBoundingClientRect();
  return { x: (event.clientX - box.left) * pad.width / box.width, y: (event.clientY - box.top) * pad.height / box.height };
}

function stroke(from, to, pressure) {
  ink.strokeStyle = "white";
  ink.lineCap = ink.lineJoin = "round";
  ink.lineWidth = 18 * (pressure > 0 && pressure !== 0.5 ? 0.6 + pressure * 0.8 : 1);
  ink.beginPath();
  ink.moveTo(from.x, from.y);
  ink.lineTo(to.x, to.y);
  ink.stroke();
}

pad.addEventListener("pointerdown", e => {
  pad.setPointerCapture(e.pointerId);
  state.drawing = true;
  state.last = point(e);
  stroke(state.last, state.last, e.pressure);
  state.drawn = true;
  predictPad();
});
pad.addEventListener("pointermove", e => {
  if (!state.drawing) return;
  const next = point(e);
  stroke(state.last, next, e.pressure);
  state.last = next;
  predictPad();
});
for (const type of ["pointerup", "pointercancel"])
  pad.addEventListener(type, () => { state.drawing = false; predictPad(); });
$("clear").addEventListener("click", clearPad);

// ---- Images from files -----------------------------------------------------------------------------------------
async function useFile(file) {
  if (!file) return;
  try {
    const bitmap = await createImageBitmap(file);
    ink.fillStyle = "black";
    ink.fillRect(0, 0, pad.width, pad.height);
    const scale = Math.min(pad.width / bitmap.width, pad.height / bitmap.height);
    const w = bitmap.width * scale, h = bitmap.height * scale;
    ink.drawImage(bitmap, (pad.width - w) / 2, (pad.height - h) / 2, w, h);
  } catch { /* a format the browser cannot show (PGM): the server still reads it */ }
  state.drawn = false; // the file itself is predicted, not its picture on the pad
  state.shown++;
  send(file, file.type || "application/octet-stream", file.name);
}

$("file").addEventListener("change", e => { useFile(e.target.files[0]); e.target.value = ""; });
const frame = $("pad-frame");
frame.addEventListener("dragover", e => { e.preventDefault(); frame.classList.add("dropping"); });
frame.addEventListener("dragleave", () => frame.classList.remove("dropping"));
frame.addEventListener("drop", e => {
  e.preventDefault();
  frame.classList.remove("dropping");
  useFile(e.dataTransfer.files[0]);
});

// ---- Predictions ------------------------------------------------------------------------------------------------
function predictPad() {
  if (!state.drawn) return;
  if (state.busy) { state.again = true; return; }
  // Busy from here, not from the blob's arrival: toBlob is asynchronous, and a second drawing event before it calls
  // back must wait its turn (else two requests race and the older answer can land last).
  state.busy = true;
  const shown = state.shown;
  pad.toBlob(blob => send(blob, "image/png", "drawing.png", shown), "image/png");
}

async function send(body, type, name, shown = state.shown) {
  state.busy = true;
  try {
    const response = await fetch(`/api/predict?seen=1&name=${encodeURIComponent(name)}`,
      { method: "POST", headers: { "Content-Type": type }, body });
    const json = await response.json();
    if (shown !== state.shown) return; // the pad was cleared or replaced while this was in flight
    if (response.ok) showAnswer(json[0]);
    else showAnswer(json.predictions?.[0] ?? null, json.error ?? `The server answered ${response.status}.`);
  } catch (error) {
    if (shown === state.shown) showAnswer(null, `The server cannot be reached (${error.message}).`);
  } finally {
    state.busy = false;
    if (state.again) { state.again = false; predictPad(); }
  }
}

function showAnswer(prediction, message) {
  const known = prediction && prediction.probabilities;
  $("guess").textContent = known ? prediction.name : "?";
  $("message").textContent = message ?? (known
    ? `${prediction.name}, with ${(100 * prediction.probabilities[prediction.label]).toFixed(1)} % probability.`
    : "");
  document.querySelectorAll(".bar").forEach((bar, i) => {
    const p = known ? prediction.probabilities[i] : 0;
    bar.querySelector(".fill").style.width = `${(100 * p).toFixed(1)}%`;
    bar.querySelector(".pct").textContent = known ? `${(100 * p).toFixed(1)} %` : "";
    bar.classList.toggle("top", known && i === prediction.label);
  });
  showSeen(known ? prediction.seen : null);
}

function showSeen(base64) {
  const view = $("seen").getContext("2d");
  const image = view.createImageData(28, 28);
  const pixels = base64 ? Uint8Array.from(atob(base64), c => c.charCodeAt(0)) : new Uint8Array(784);
  for (let i = 0; i < 784; i++) {
    image.data.set([pixels[i], pixels[i], pixels[i], 255], 4 * i);
  }
  view.putImageData(image, 0, 0);
}

function makeBars(classes) {
  const bars = $("bars");
  bars.replaceChildren();
  for (const name of classes) {
    const row = document.createElement("div");
    row.className = "bar";
    const label = document.createElement("span");
    label.className = "label";
    label.textContent = name;
    label.title = name;
    const track = document.createElement("div");
    track.className = "track";
    const fill = document.createElement("div");
    fill.className = "fill";
    track.append(fill);
    const pct = document.createElement("span");
    pct.className = "pct";
    row.append(label, track, pct);
    bars.append(row);
  }
}

// ---- The model --------------------------------------------------------------------------------------------------
const number = n => n.toLocaleString("en-US");
const percent = a => `${a.toFixed(2)} %`;

function showModel(model) {
  $("model-name").textContent = model.model;
  const facts = [`${number(model.parameters)} parameters`, `${number(model.multAdds)} multiply-adds per image`];
  if (model.testAccuracy != null)
    facts.push(model.testImages ? `${percent(model.testAccuracy)} on ${number(model.testImages)} test images`
      : `${percent(model.testAccuracy)} accuracy`);
  if (model.training) facts.push("training now");
  $("model-facts").textContent = facts.join(" · ");
  const body = $("layers").tBodies[0];
  body.replaceChildren();
  for (const layer of model.layers) {
    const row = body.insertRow();
    for (const [text, cls] of [[layer.name, ""], [layer.type, ""], [layer.shape.join(" × "), ""],
      [number(layer.parameters), "num"]]) {
      const cell = row.insertCell();
      cell.textContent = text;
      cell.className = cls;
    }
  }
}

async function loadModel() {
  for (;;) {
    try {
      const response = await fetch("/api/model");
      if (response.ok) return await response.json();
    } catch { /* not up yet */ }
    await new Promise(r => setTimeout(r, 500));
  }
}

// ---- Training ---------------------------------------------------------------------------------------------------
const run = { steps: [[], [], []], epochs: [[], [], [], []], total: 0, last: null, newEpoch: false };
let lossPlot, accuracyPlot;

function chartWidth(id) { return Math.max(300, $(id).clientWidth || 480); }

function makeCharts() {
  lossPlot = new uPlot({
    title: "Training loss and learning rate", width: chartWidth("loss-chart"), height: 240,
    scales: { x: { time: false }, rate: { auto: true } },
    series: [{ label: "step" }, { label: "loss", stroke: "#2563eb", width: 1.5 },
      { label: "learning rate", stroke: "#f59e0b", width: 1.2, scale: "rate" }],
    axes: [{ label: "step" }, { label: "loss" }, { side: 1, scale: "rate", label: "learning rate", size: 70,
      grid: { show: false }, values: (u, values) => values.map(v => v.toExponential(1)) }],
    legend: { live: false },
  }, run.steps, $("loss-chart"));
  accuracyPlot = new uPlot({
    title: "Accuracy per epoch (%)", width: chartWidth("accuracy-chart"), height: 240,
    // Accuracy in percent: the range hugs the points (at most 100), so that the last tenths are visible.
    scales: { x: { time: false }, y: { range: (u, min, max) => min == null ? [0, 100]
      : [Math.max(0, Math.floor(min - 1)), Math.min(100, Math.ceil(max + 0.5))] } },
    legend: { live: false },
    series: [{ label: "epoch" }, { label: "test", stroke: "#2563eb", width: 2, points: { show: true } },
      { label: "validation", stroke: "#10b981", width: 2, points: { show: true } },
      { label: "train", stroke: "#9ca3af", width: 1.5, points: { show: true } }],
    axes: [{ label: "epoch", incrs: [1, 2, 5, 10, 20, 50] }, { label: "%" }],
  }, run.epochs, $("accuracy-chart"));
  addEventListener("resize", () => {
    lossPlot.setSize({ width: chartWidth("loss-chart"), height: 240 });
    accuracyPlot.setSize({ width: chartWidth("accuracy-chart"), height: 240 });
  });
}

const seconds = s => s >= 90 ? `${Math.floor(s / 60)} min ${Math.round(s % 60)} s` : `${s.toFixed(0)} s`;

// The charts and the progress are redrawn once per batch of events (the server sends at most one a second), in the next
// animation frame, which a hidden page does not get: the page shares the machine with the run it shows, and each wakeup
// of the browser takes the cores from the run for a moment.
let redrawing = false;
function redraw() {
  if (redrawing) return;
  redrawing = true;
  requestAnimationFrame(() => {
    redrawing = false;
    lossPlot.setData(run.steps);
    if (run.newEpoch) accuracyPlot.setData(run.epochs);
    run.newEpoch = false;
    // While training, the drawing is predicted again with each batch: the answer changes as the weights learn.
    if (state.drawn && !document.body.dataset.trained) predictPad();
    const last = run.last;
    if (!last || document.body.dataset.trained) return;
    $("progress-fill").style.width = `${(100 * last.fraction).toFixed(1)}%`;
    $("progress-text").textContent = `Epoch ${last.epoch} of ${run.total} · step ${number(last.step)} · ` +
      `${(100 * last.fraction).toFixed(0)} % · loss ${last.loss?.toFixed(4) ?? "not finite"}` +
      (last.remaining != null ? ` · ${seconds(last.remaining)} left` : "");
  });
}

function onEvent(event) {
  if (event.type === "start") {
    run.steps.forEach(a => a.length = 0);
    run.epochs.forEach(a => a.length = 0);
    run.total = event.epochs;
    $("train-status").textContent = `${event.model}, ${event.epochs} epochs of ${number(event.stepsPerEpoch)} steps`;
  } else if (event.type === "step") {
    run.steps[0].push(event.step);
    run.steps[1].push(event.loss);
    run.steps[2].push(event.rate);
    run.last = event;
    redraw();
  } else if (event.type === "epoch") {
    run.epochs[0].push(event.epoch);
    run.epochs[1].push(event.testAccuracy);
    run.epochs[2].push(event.validationAccuracy);
    run.epochs[3].push(event.trainAccuracy);
    run.newEpoch = true;
    redraw();
    const held = event.testAccuracy ?? event.validationAccuracy;
    if (held != null) $("model-facts").textContent = `${percent(held)} ${event.testAccuracy != null ? "test" :
      "validation"} accuracy after epoch ${event.epoch} · training now`;
  } else if (event.type === "end") {
    $("progress-fill").style.width = "100%";
    $("progress-text").textContent = `Done in ${seconds(event.elapsed)}: ${percent(event.testAccuracy)} test accuracy` +
      (event.stopReason ? ` (${event.stopReason})` : "") + ". The page predicts with the trained model.";
    $("model-facts").textContent = `${percent(event.testAccuracy)} test accuracy · trained`;
    document.body.dataset.trained = "true";
  }
}

function watch() {
  $("training").hidden = false;
  makeCharts();
  const source = new EventSource("/api/events");
  source.onmessage = message => {
    for (const event of JSON.parse(message.data)) {
      onEvent(event);
      if (event.type === "end") source.close();
    }
  };
}

// ---- Start --------------------------------------------------------------------------------------------------------
clearPad();
loadModel().then(model => {
  state.classes = model.classes;
  makeBars(model.classes);
  showModel(model);
  if (model.training) watch();
  document.body.dataset.ready = "true";
});
