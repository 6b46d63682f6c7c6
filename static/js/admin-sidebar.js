// The back office's sidebar at 1280 px and its toggle.
// unfold closes the sidebar at widths <= 1280 px although its layout already docks it
// from 1280 px, and its first toggle turns the sidebarOpen *function* into false, so the
// first click did nothing. Here: open from 1280 px unless the person closed it, and a
// plain boolean that the toggle flips and remembers.
document.addEventListener("alpine:init", () => {
  const original = window.theme;
  if (typeof original !== "function") return;
  const wanted = () => window.innerWidth >= 1280 && localStorage.getItem("sidebarOpen") !== "0";
  window.theme = function (defaultTheme) {
    const data = original(defaultTheme);
    data.sidebarOpen = wanted();
    data.sidebarToggle = function () {
      this.sidebarOpen = !this.sidebarOpen;
      if (window.innerWidth >= 1280) localStorage.setItem("sidebarOpen", this.sidebarOpen ? "1" : "0");
    };
    data.themeBindings["x-resize.window"] = function () {
      this.sidebarOpen = wanted();
    };
    return data;
  };
});
