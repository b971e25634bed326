import "./lazy.css";

export function greet() {
  return "loaded lazily from " + new URL(import.meta.url).origin;
}
