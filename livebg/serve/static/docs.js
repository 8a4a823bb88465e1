// Renders /openapi.json as a plain list of routes and their fields (no CDN, no framework).
"use strict";

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function resolve(spec, schema) {
  if (schema && schema.$ref) return spec.components.schemas[schema.$ref.split("/").pop()];
  return schema || {};
}

document.addEventListener("DOMContentLoaded", async () => {
  const main = document.getElementById("routes");
  const spec = await (await fetch("/openapi.json")).json();
  main.replaceChildren();
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const section = el("section");
      section.appendChild(el("h2", method.toUpperCase() + " " + path));
      if (op.summary) section.appendChild(el("p", op.summary));
      const rows = [];
      for (const p of op.parameters || []) rows.push([p.name, p.in, p.description || ""]);
      const body = op.requestBody && op.requestBody.content;
      if (body) {
        const form = body["multipart/form-data"] || body["application/x-www-form-urlencoded"];
        const schema = form ? resolve(spec, form.schema) : {};
        for (const [name, field] of Object.entries(schema.properties || {})) {
          rows.push([name, "form", field.description || ""]);
        }
      }
      if (rows.length) {
        const list = el("ul");
        for (const [name, where, what] of rows) list.appendChild(el("li", name + " (" + where + ")" + (what ? ": " + what : "")));
        section.appendChild(list);
      }
      const codes = Object.keys(op.responses || {}).join(", ");
      if (codes) section.appendChild(el("p", "Answers: " + codes));
      main.appendChild(section);
    }
  }
});
