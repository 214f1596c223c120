// Keyboard shortcuts of the Rate tab: 1 A is better, 2 B is better, 3 tie, 4 both bad, s skip, u undo.
// Ignored while typing in a field, and when the Rate tab is not showing.
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
  const target = event.target;
  if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.isContentEditable)) return;
  const ids = { "1": "rate-a", "2": "rate-b", "3": "rate-tie", "4": "rate-bad", s: "rate-skip", u: "rate-undo" };
  const id = ids[event.key.toLowerCase()];
  const button = id && document.getElementById(id);
  if (!button || button.offsetParent === null || button.disabled) return;
  event.preventDefault();
  button.click();
});
