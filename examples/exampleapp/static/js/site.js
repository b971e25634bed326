// The example's own script: marks the page so a test can see that it ran, and whether
// Bootstrap's bundle (served from the same place) ran before it.
document.body.dataset.js = "loaded";
document.body.dataset.bootstrap = typeof bootstrap === "undefined" ? "missing" : "loaded";
