// Forms generated from a JSON schema: an MCP server's configuration, a tool's input.
// Strings, numbers, integers, booleans, enums and string lists; secret fields as passwords.
import { h } from "./dom.js";

/** An id fragment from any name (tool and field names may hold dots or spaces). */
export function slug(text) {
  return String(text).replace(/[^A-Za-z0-9_-]/g, "_");
}

/** The schema of one property with `anyOf: [X, {type: "null"}]` (pydantic's optionals) unwrapped. */
function resolve(prop) {
  const choices = prop && (prop.anyOf || prop.oneOf);
  if (!Array.isArray(choices)) return prop || {};
  const chosen = choices.find((c) => c && c.type !== "null") || {};
  return { ...chosen, ...prop, anyOf: undefined, oneOf: undefined, type: chosen.type };
}

function typeOf(prop) {
  if (Array.isArray(prop.enum)) return "enum";
  const type = Array.isArray(prop.type) ? prop.type.find((t) => t !== "null") : prop.type;
  if (type === "array" && resolve(prop.items || {}).type === "string") return "lines";
  return type || "json";
}

/**
 * Inputs for an object schema's properties. `values`: what to show (a redacted configuration);
 * `secrets`: property names shown as password fields and never filled in; `patch`: read back
 * as a merge patch (an emptied field becomes null, an untouched secret is left out).
 * Returns { elements, read() } where read() throws an Error whose message is a sentence.
 */
export function schemaForm(schema, { prefix, values = {}, secrets = [], patch = false }) {
  const properties = (schema && schema.properties) || {};
  const required = new Set((schema && schema.required) || []);
  const fields = [];
  const elements = [];
  for (const [name, raw] of Object.entries(properties)) {
    const prop = resolve(raw);
    const kind = typeOf(prop);
    const id = `${prefix}-${slug(name)}`;
    const label = prop.title || name;
    const secret = secrets.includes(name) || prop.format === "password" || prop.writeOnly === true;
    const stored = values[name];
    const initial = stored !== undefined ? stored : prop.default;
    const keepsSecret = secret && patch && stored !== undefined && stored !== null && stored !== "";
    const isRequired = required.has(name) && !keepsSecret;
    let control;
    if (kind === "enum") {
      control = h("select", { id, name, required: isRequired },
        isRequired ? null : h("option", { value: "" }, "—"),
        prop.enum.map((option) => h("option", { value: JSON.stringify(option), selected: initial === option }, String(option))));
    } else if (kind === "boolean") {
      control = h("input", { id, name, type: "checkbox", checked: initial === true });
    } else if (kind === "integer" || kind === "number") {
      control = h("input", { id, name, type: "number", inputmode: kind === "integer" ? "numeric" : "decimal",
        step: kind === "integer" ? "1" : "any", min: prop.minimum, max: prop.maximum, required: isRequired,
        value: typeof initial === "number" ? String(initial) : undefined });
    } else if (kind === "string" && secret) {
      control = h("input", { id, name, type: "password", autocomplete: "new-password", required: isRequired,
        placeholder: keepsSecret ? `Saved as ${stored}; leave empty to keep it` : undefined });
    } else if (kind === "string") {
      control = h("input", { id, name, type: prop.format === "uri" ? "url" : "text", required: isRequired,
        value: typeof initial === "string" ? initial : undefined, maxlength: prop.maxLength, placeholder: prop.examples ? String(prop.examples[0]) : undefined });
    } else if (kind === "lines") {
      control = h("textarea", { id, name, rows: "3", required: isRequired }, Array.isArray(initial) ? initial.join("\n") : "");
    } else {
      control = h("textarea", { id, name, rows: "3", class: "json", required: isRequired, spellcheck: "false" },
        initial !== undefined ? JSON.stringify(initial, null, 2) : "");
    }
    const hint = prop.description ? h("span", { class: "hint", id: `${id}-hint` }, prop.description) : null;
    if (hint) control.setAttribute("aria-describedby", hint.id);
    const caption = h("label", { for: id }, label, isRequired ? h("span", { class: "required", "aria-hidden": "true" }, " *") : null);
    elements.push(kind === "boolean"
      ? h("div", { class: "field check" }, control, caption, hint)
      : h("div", { class: "field" }, caption, control, hint));
    fields.push({ name, kind, label, control, secret, had: stored !== undefined && stored !== null });
  }

  function read() {
    const out = {};
    for (const { name, kind, label, control, secret, had } of fields) {
      if (kind === "boolean") { out[name] = control.checked; continue; }
      const text = control.value.trim();
      if (text === "") {
        // a secret left empty keeps what is stored; another emptied field is removed
        if (patch && had && !secret) out[name] = null;
        continue;
      }
      if (kind === "enum") out[name] = JSON.parse(control.value);
      else if (kind === "integer" || kind === "number") {
        const number = Number(text);
        if (!Number.isFinite(number) || (kind === "integer" && !Number.isInteger(number))) {
          throw new Error(`${label} must be ${kind === "integer" ? "a whole number" : "a number"}.`);
        }
        out[name] = number;
      } else if (kind === "lines") out[name] = text.split("\n").map((l) => l.trim()).filter(Boolean);
      else if (kind === "string") out[name] = secret ? control.value : text;
      else {
        try { out[name] = JSON.parse(text); } catch { throw new Error(`${label} is not valid JSON.`); }
      }
    }
    return out;
  }
  return { elements, read, empty: fields.length === 0 };
}
