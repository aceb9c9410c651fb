// The map selection's images (pages/explore/map_selection.py), each with its caption. Python sends
// every tile in one picture (`sprite`: `columns` tiles a row, each `width` x `height` pixels), cut
// here into one canvas a tile: as st.image tiles they were one request each, and a grid of 100 took
// 1-1.7 s to load after the page's rerun. `data-drawn` holds the id of the grid shown.

function drawTiles(root, data, image) {
  const figures = data.captions.map((caption, i) => {
    const canvas = document.createElement("canvas");
    canvas.width = data.width;
    canvas.height = data.height;
    Object.assign(canvas.style, { display: "block", width: `${data.display_width}px`, imageRendering: "pixelated" });
    const column = i % data.columns, row = Math.floor(i / data.columns);
    canvas.getContext("2d").drawImage(image, column * data.width, row * data.height, data.width, data.height,
                                      0, 0, data.width, data.height);
    const label = document.createElement("figcaption");
    label.textContent = caption;
    Object.assign(label.style, { font: "12px sans-serif", textAlign: "center", opacity: 0.7 });
    const figure = document.createElement("figure");
    figure.style.margin = 0;
    figure.append(canvas, label);
    return figure;
  });
  root.replaceChildren(...figures);
  root.dataset.drawn = data.id;
}

export default function (component) {
  const { data, parentElement } = component;
  let root = parentElement.querySelector(".selection-grid");
  if (!root) {
    root = document.createElement("div");
    root.className = "selection-grid";
    Object.assign(root.style, { display: "flex", flexWrap: "wrap", gap: "8px" });
    parentElement.append(root);
  }
  if (root.dataset.id === data.id) return;
  root.dataset.id = data.id;
  const image = new Image();
  image.onload = () => { if (root.dataset.id === data.id) drawTiles(root, data, image); };
  image.src = data.sprite;
}
