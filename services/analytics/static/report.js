// The printable report's « Imprimer » link (a script file: the page's Content-Security-Policy runs no inline code).
document.getElementById("imprimer").addEventListener("click", function (event) {
  event.preventDefault();
  window.print();
});
