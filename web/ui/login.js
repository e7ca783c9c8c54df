// Shows the failure notice after a refused login (/login?failed=1).
if (new URLSearchParams(location.search).has('failed')) {
  document.getElementById('login-error').hidden = false;
}
