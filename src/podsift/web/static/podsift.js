// podsift: small progressive enhancements; every page works without this file.
document.addEventListener("DOMContentLoaded", () => {
  // Sign-up: fill the time zone from the browser when the field still holds the default.
  const zone = document.querySelector("input[data-detect-timezone]");
  if (zone && (!zone.value || zone.value === "UTC")) {
    try { zone.value = Intl.DateTimeFormat().resolvedOptions().timeZone || zone.value; } catch (e) { /* keep UTC */ }
  }
});
