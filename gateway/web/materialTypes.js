// Material types, as the catalog lists them at GET /api/material-types: {code, label,
// group_label, sort_order}. The list is asked for once and kept in memory. Every material also
// names its own type (`material_type_code` and the label `material_type`), so a course's
// materials are shown right even while the list is loading or when it could not be had.

import { api } from "./api.js";

// The badge colours the stylesheet has; any other type gets the neutral one.
const BADGE_COLOURS = new Set(["lecture", "seminar", "lab"]);

let known = [];
let loading = null;

function normalised(list) {
  if (!Array.isArray(list)) return [];
  return list
    .filter((type) => type && typeof type.code === "string" && type.code)
    .map(({ code, label, group_label: groupLabel, sort_order: sortOrder }) => ({
      code,
      label: label || code,
      groupLabel: groupLabel || label || code,
      sortOrder: Number.isFinite(sortOrder) ? sortOrder : Number.MAX_SAFE_INTEGER,
    }))
    .sort((a, b) => a.sortOrder - b.sortOrder || a.label.localeCompare(b.label, "ru"));
}

/** Loads the list once; resolves with it (empty when it could not be had; a later call retries). */
export function loadMaterialTypes() {
  if (!loading) {
    loading = api
      .materialTypes()
      .then((list) => {
        known = normalised(list);
        return known;
      })
      .catch(() => {
        loading = null;
        return known;
      });
  }
  return loading;
}

function typeOf(material) {
  return { code: material.material_type_code, label: typeLabel(material) };
}

/** The known types followed by any other type the given materials have. */
function withTypesOf(materials) {
  const types = [...known];
  for (const material of materials) {
    const code = material?.material_type_code;
    if (code && !types.some((type) => type.code === code)) types.push(typeOf(material));
  }
  return types;
}

/** Every type a material can be given, for the editor's select (plus the material's own). */
export function materialTypes(materials = []) {
  return withTypesOf(materials).map(({ code, label }) => ({ code, label }));
}

/** A material's type as the catalog names it. */
export function typeLabel(material) {
  return material.material_type || material.material_type_code || "Материал";
}

/** The badge colour: one per standard type, one for any other. */
export function typeClass(code) {
  return BADGE_COLOURS.has(code) ? `type-${code}` : "type-other";
}

/** Which chips to show after "Все": the catalog's types, then any other type the course has. */
export function courseTypes(materials) {
  return withTypesOf(materials);
}

/** The heading of a type's group in the list of all materials. */
export function groupTitle(type) {
  return type.groupLabel || type.label;
}

/** A type named in the URL by its code or by its label (in any letter case), as a code. */
export function typeCode(value, materials = []) {
  if (!value) return null;
  const lower = value.toLowerCase();
  const byLabel = withTypesOf(materials).find(({ label }) => label.toLowerCase() === lower);
  return byLabel ? byLabel.code : value;
}
