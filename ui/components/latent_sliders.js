// All latent sliders in one component: a step re-renders this plain DOM, not sixteen React sliders.
// Python sends {rows, values, seq, limit, step}; a move sends {seq, values} as the state value "code".
// At most one move is in flight: the next goes once Python has answered (its data.seq caught up),
// so dragging never queues reruns, and Python's values replace the thumbs only when it has seen
// every move (so a late answer never snaps a thumb back). SETTLE_MS after the last answer the
// trigger "settled" tells Python to write the code into the URL: once per gesture, because a URL
// change re-renders the whole Streamlit app and adds a browser history entry.
const RETRY_MS = 1000;
const SETTLE_MS = 400;

function build(root, data) {
  root.innerHTML = "";
  root.inputs = [];
  const addRow = (parent, row) => {
    const wrapper = document.createElement("div");
    wrapper.className = "ls-row";
    const label = document.createElement("label");
    const name = document.createElement("span");
    name.textContent = row.label;
    const shown = document.createElement("output");
    const input = document.createElement("input");
    Object.assign(input, { type: "range", min: -data.limit, max: data.limit, step: data.step });
    input.dataset.dim = row.dim;
    input.setAttribute("aria-label", row.label);
    input.addEventListener("input", () => {
      clearTimeout(root.settle);
      shown.textContent = Number(input.value).toFixed(2);
      root.dirty = true;
      send(root);
    });
    input.shown = shown;
    label.append(name, shown);
    wrapper.append(label, input);
    parent.append(wrapper);
    root.inputs.push(input);
  };
  const informative = data.rows.filter((r) => !r.collapsed);
  const collapsed = data.rows.filter((r) => r.collapsed);
  informative.forEach((row) => addRow(root, row));
  if (collapsed.length) {
    const details = document.createElement("details");
    const summary = document.createElement("summary");
    summary.textContent = `${collapsed.length} collapsed dimension(s), KL ≈ 0: they change nothing`;
    details.append(summary);
    collapsed.forEach((row) => addRow(details, row));
    root.append(details);
  }
}

function send(root) {
  if (!root.dirty) return;
  const now = performance.now();
  if (root.inFlight && now - root.sentAt < RETRY_MS) {
    clearTimeout(root.retry);
    root.retry = setTimeout(() => send(root), RETRY_MS);
    return;
  }
  const values = new Array(root.inputs.length);
  root.inputs.forEach((input) => { values[Number(input.dataset.dim)] = Number(input.value); });
  root.seq += 1;
  root.dirty = false;
  root.inFlight = true;
  root.sentAt = now;
  root.setStateValue("code", { seq: root.seq, values });
}

export default function (component) {
  const { data, parentElement, setStateValue, setTriggerValue } = component;
  let root = parentElement.querySelector(".latent-sliders");
  const layout = JSON.stringify([data.rows, data.limit, data.step]);
  if (!root) {
    root = document.createElement("div");
    root.className = "latent-sliders";
    root.seq = 0;
    parentElement.append(root);
  }
  if (root.layout !== layout) {
    root.layout = layout;
    build(root, data);
  }
  root.setStateValue = setStateValue;
  root.setTriggerValue = setTriggerValue;
  root.seq = Math.max(root.seq, data.seq);
  if (data.seq >= root.seq) {
    root.inFlight = false;
    if (root.dirty) {
      send(root);
    } else {
      root.inputs.forEach((input) => {
        const value = data.values[Number(input.dataset.dim)];
        if (Number(input.value) !== value) input.value = value;
        input.shown.textContent = value.toFixed(2);
      });
      if (data.url_pending) {
        clearTimeout(root.settle);
        root.settle = setTimeout(() => root.setTriggerValue("settled", root.seq), SETTLE_MS);
      }
    }
  }
}
