// Renders /openapi.json as a list of operations. Local file only: no CDN, no eval.
"use strict";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

function schemaName(schema) {
  if (!schema) return "";
  if (schema.$ref) return schema.$ref.split("/").pop();
  if (schema.type === "array") return "array of " + schemaName(schema.items);
  if (schema.anyOf) return schema.anyOf.map(schemaName).join(" | ");
  if (schema.enum) return schema.enum.join(" | ");
  return schema.type || "";
}

function operation(path, method, op) {
  const params = (op.parameters || []).map((p) =>
    el("tr", {}, el("td", {}, el("code", {}, p.name)), el("td", {}, p.in),
      el("td", {}, schemaName(p.schema)), el("td", {}, p.required ? "required" : ""),
      el("td", {}, p.description || "")));
  const body = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
  const responses = Object.entries(op.responses || {}).map(([status, r]) => {
    const content = r.content && (r.content["application/json"] || Object.values(r.content)[0]);
    return el("tr", {}, el("td", {}, status), el("td", {}, r.description || ""),
      el("td", {}, content ? schemaName(content.schema) : ""));
  });
  return el("details", {},
    el("summary", {}, el("span", { class: "method " + method }, method.toUpperCase()),
      el("span", { class: "path" }, path), el("span", { class: "summary" }, op.summary || "")),
    el("p", {}, op.description || ""),
    params.length ? el("table", {}, el("tr", {}, el("th", {}, "parameter"), el("th", {}, "in"),
      el("th", {}, "type"), el("th", {}, ""), el("th", {}, "")), ...params) : null,
    body ? el("p", {}, "Body: ", el("code", {}, schemaName(body.schema))) : null,
    el("table", {}, el("tr", {}, el("th", {}, "status"), el("th", {}, "meaning"),
      el("th", {}, "body")), ...responses));
}

async function main() {
  const target = document.getElementById("operations");
  let spec;
  try {
    const response = await fetch("/openapi.json");
    spec = await response.json();
  } catch (error) {
    target.replaceChildren(el("p", {}, "Could not load /openapi.json: " + error));
    return;
  }
  document.getElementById("title").textContent = spec.info.title + " " + spec.info.version;
  const byTag = new Map();
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const tag = (op.tags && op.tags[0]) || "other";
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push(operation(path, method, op));
    }
  }
  const sections = [];
  for (const [tag, ops] of byTag) sections.push(el("h2", {}, tag), ...ops);
  target.replaceChildren(...sections);
}

main();
