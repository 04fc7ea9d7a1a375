// Starts Swagger UI on /docs. A file of its own so the page needs no inline script (CSP script-src 'self').
"use strict";
(function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null, // never send the document to a third-party validator
    presets: [SwaggerUIBundle.presets.apis],
  });
})();
