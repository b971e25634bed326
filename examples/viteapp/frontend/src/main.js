import "./style.css";
import logo from "./logo.svg";

const image = document.createElement("img");
image.id = "logo";
image.alt = "logo";
image.src = logo;
document.getElementById("app").append(image);
document.body.dataset.main = "loaded";

// A separate chunk; Vite's runtime preloads its stylesheet relative to the build's base.
import("./lazy.js").then(({ greet }) => {
  document.getElementById("out").textContent = greet();
  document.body.dataset.lazy = "loaded";
});
