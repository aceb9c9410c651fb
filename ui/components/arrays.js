// Arrays as the server sends them: base64 of little-endian bytes (numpy's "<f4", "<i4", "<f2"). Joined
// in front of each component that reads them (vae/share/components.py's component_js), and of the shared site's.

let halfTable = null;

function halfToFloatTable() {
  if (halfTable) return halfTable;
  halfTable = new Float32Array(65536);
  for (let bits = 0; bits < 65536; bits++) {
    const sign = bits & 0x8000 ? -1 : 1;
    const exponent = (bits >> 10) & 0x1f;
    const fraction = bits & 0x3ff;
    halfTable[bits] = exponent === 0 ? sign * 2 ** -14 * (fraction / 1024)
      : exponent === 31 ? (fraction ? NaN : sign * Infinity)
      : sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
  }
  return halfTable;
}

function readBytes(base64) {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function readArray(base64, dtype) {
  const bytes = readBytes(base64);
  if (dtype === "float32") return new Float32Array(bytes.buffer);
  if (dtype === "int32") return new Int32Array(bytes.buffer);
  if (dtype !== "float16") throw new Error(`unknown dtype ${dtype}`);
  const halves = new Uint16Array(bytes.buffer);
  const table = halfToFloatTable();
  const out = new Float32Array(halves.length);
  for (let i = 0; i < halves.length; i++) out[i] = table[halves[i]];
  return out;
}
