// The play page: draws the frames the server sends over the websocket and sends the keys back.
// Messages are described in recurrent_sim/play/protocol.py.
"use strict";

const state = {
  hello: null, frame: null, frames: 0, errors: [], saved: null,
  realFrames: [],  // real frames of this episode by step (base64), for looking back with the slider
  episode: -1, paused: false, agent: false, held: new Set(),
};
window.playState = state;  // what the page shows, for whoever inspects it

const $ = (id) => document.getElementById(id);
const socket = new WebSocket(`ws://${location.host}/ws`);
const send = (message) => { if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message)); };

function draw(canvas, base64) {
  const { width, height, scale } = state.hello, channels = state.hello.channels || 1;
  const pixels = atob(base64);
  const small = document.createElement("canvas");
  small.width = width; small.height = height;
  const context = small.getContext("2d");
  const image = context.createImageData(width, height);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) image.data[4 * i + c] = pixels.charCodeAt(channels * i + (channels === 3 ? c : 0));
    image.data[4 * i + 3] = 255;
  }
  context.putImageData(image, 0, 0);
  canvas.width = width * scale; canvas.height = height * scale;
  const big = canvas.getContext("2d");
  big.imageSmoothingEnabled = false;  // nearest neighbour: game pixels stay square
  big.drawImage(small, 0, 0, canvas.width, canvas.height);
}

function drawCurve(values, branchStep) {
  const canvas = $("curve"), context = canvas.getContext("2d");
  const { width, height } = canvas, margin = 30;
  context.fillStyle = "#000"; context.fillRect(0, 0, width, height);
  const top = Math.max(1e-3, ...values.filter((v) => v !== null));
  context.fillStyle = "#999"; context.font = "10px sans-serif";
  context.fillText(top.toPrecision(2), 2, 10); context.fillText("0", 2, height - 2);
  context.fillText(`MSE per step since the branch at step ${branchStep}`, margin + 4, 10);
  const n = Math.max(values.length - 1, 1), x = (i) => margin + (i / n) * (width - margin - 4);
  const y = (v) => height - 4 - (v / top) * (height - 16);
  context.strokeStyle = "#4cf"; context.lineWidth = 1.5; context.beginPath();
  values.forEach((v, i) => (i === 0 ? context.moveTo(x(i), y(v || 0)) : context.lineTo(x(i), y(v || 0))));
  context.stroke();
}

const number = (v) => (Number.isInteger(v) ? String(v) : v.toFixed(2));

function showHello(hello) {
  state.hello = hello;
  $("legend").textContent = hello.legend;
  $("help").textContent = hello.keys;
}

function showFrame(frame) {
  state.frame = frame; state.frames += 1;
  if (frame.episode !== state.episode) { state.episode = frame.episode; state.realFrames = []; }
  state.realFrames.length = frame.step + 1;
  state.realFrames[frame.step] = frame.real;
  state.paused = frame.paused; state.agent = frame.agent;
  draw($("sim"), frame.sim); draw($("real"), frame.real);
  $("real-caption").textContent = "real game, same actions";
  $("step").textContent = frame.step;
  $("branch-step").textContent = frame.branch_step;
  $("divergence").textContent = frame.divergence.toFixed(5);
  $("drift").textContent = frame.drift === null ? (state.hello.has_drift ? "-" : "no drift head") : frame.drift.toFixed(5);
  $("sim-score").textContent = number(frame.sim_score); $("real-score").textContent = number(frame.real_score);
  $("sim-reward").textContent = number(frame.sim_reward); $("real-reward").textContent = number(frame.real_reward);
  const history = $("history");
  history.max = frame.step;
  if (document.activeElement !== history) { history.value = frame.step; $("history-step").textContent = frame.step; }
  $("pause").textContent = frame.over ? "Episode over" : frame.paused ? "Resume (P)" : "Pause (P)";
  $("pause").disabled = frame.over;  // an ended episode cannot go on: branch or start a new one
  $("agent").textContent = frame.agent ? `You play (A)` : `${state.hello.agent} plays (A)`;
  $("status").textContent = (frame.over ? "real episode over: rewind or start a new one"
    : (frame.paused ? "paused" : "playing") + (frame.agent ? `, ${state.hello.agent} at the controls` : ""))
    + (frame.sim_done ? "; the simulator predicts the episode's end" : "");
  drawCurve(frame.divergences, frame.branch_step);
}

socket.onmessage = (event) => {
  const message = JSON.parse(event.data);
  if (message.type === "hello") showHello(message);
  else if (message.type === "frame") showFrame(message);
  else if (message.type === "saved") { state.saved = message.path; $("message").textContent = `saved ${message.path}`; }
  else if (message.type === "error") { state.errors.push(message.message); $("message").textContent = message.message; }
};
socket.onclose = () => { $("status").textContent = "disconnected (reload the page)"; };

// ----- keys -> actions -----------------------------------------------------
const DIRECTIONS = { ArrowUp: "UP", ArrowDown: "DOWN", ArrowLeft: "LEFT", ArrowRight: "RIGHT", " ": "FIRE" };

function heldAction() {
  const names = state.hello.actions, held = state.held;
  const vertical = held.has("UP") ? "UP" : held.has("DOWN") ? "DOWN" : "";
  const horizontal = held.has("RIGHT") ? "RIGHT" : held.has("LEFT") ? "LEFT" : "";
  const fire = held.has("FIRE") ? "FIRE" : "";
  for (const name of [vertical + horizontal + fire, vertical + horizontal, vertical + fire, horizontal + fire,
    vertical, horizontal, fire]) {
    if (name && names.includes(name)) return names.indexOf(name);
  }
  return Math.max(names.indexOf("NOOP"), 0);
}

function stepOnce(action) { send(action === undefined ? { type: "step" } : { type: "step", action }); }
function branch() { send({ type: "branch", step: Number($("history").value) }); }
function togglePause() { if (!(state.frame && state.frame.over)) send({ type: state.paused ? "resume" : "pause" }); }
function toggleAgent() { send({ type: "agent", on: !state.agent }); }

document.addEventListener("keydown", (event) => {
  if (!state.hello || event.ctrlKey || event.metaKey || event.altKey) return;
  const onSlider = event.target === $("history");
  if (event.target instanceof HTMLInputElement && !onSlider) return;
  const direction = DIRECTIONS[event.key];
  if (direction) {
    if (onSlider) return;  // a slider focused from the keyboard (Tab) moves with the arrow keys
    event.preventDefault();
    if (event.repeat) return;
    state.held.add(direction);
    if (state.paused) stepOnce(heldAction()); else send({ type: "action", action: heldAction() });
    return;
  }
  if (/^[0-9]$/.test(event.key) && Number(event.key) < state.hello.actions.length) {
    if (state.paused) stepOnce(Number(event.key)); else send({ type: "action", action: Number(event.key) });
    return;
  }
  const shortcuts = { p: togglePause, ".": () => stepOnce(), a: toggleAgent, b: branch,
    n: () => send({ type: "reset" }), g: () => send({ type: "save_gif" }) };
  const shortcut = shortcuts[event.key.toLowerCase()];
  if (shortcut) { event.preventDefault(); shortcut(); }
});

document.addEventListener("keyup", (event) => {
  const direction = DIRECTIONS[event.key];
  if (!direction || !state.hello) return;
  state.held.delete(direction);
  if (!state.paused) send({ type: "action", action: heldAction() });
});

$("pause").onclick = togglePause;
$("step-once").onclick = () => stepOnce();
$("agent").onclick = toggleAgent;
$("reset").onclick = () => send({ type: "reset" });
$("save").onclick = () => send({ type: "save_gif" });
$("branch").onclick = branch;
$("history").addEventListener("pointerup", () => $("history").blur());  // after a drag the keys play again
$("history").oninput = () => {  // look back: the real frame at that step (branch to play from there)
  const step = Number($("history").value), frame = state.realFrames[step];
  $("history-step").textContent = step;
  if (frame) { draw($("real"), frame); $("real-caption").textContent = `real game at step ${step} (press B to branch)`; }
};
