// Material types. Every material the catalog sends names its type twice, by code
// (`material_type_code`) and by label (`material_type`, from the catalog's material_types
// table), and a material is always shown with that label. The filter chips and the editor's
// select also need the types a course has no material of yet, and no catalog answer lists
// those, so that list, with the headings of the grouped list, is kept here and only here.
const STANDARD_TYPES = [
  { code: "lecture", label: "Лекция", groupTitle: "Лекции" },
  { code: "seminar", label: "Семинар", groupTitle: "Семинары" },
  { code: "lab", label: "Лабораторная работа", groupTitle: "Лабораторные работы" },
];

/** Every type a material can be given, for the editor's select. */
export function materialTypes() {
  return STANDARD_TYPES.map(({ code, label }) => ({ code, label }));
}

/** A material's type as the catalog names it. */
export function typeLabel(material) {
  return material.material_type || material.material_type_code || "Материал";
}

/** The badge colour: one per standard type, one for any other. */
export function typeClass(code) {
  return STANDARD_TYPES.some((type) => type.code === code) ? `type-${code}` : "type-other";
}

/** Which chips to show after "Все": the standard types, then any other type the course has. */
export function courseTypes(materials) {
  const types = [...STANDARD_TYPES];
  for (const material of materials) {
    const code = material.material_type_code;
    if (code && !types.some((type) => type.code === code)) types.push({ code, label: typeLabel(material) });
  }
  return types;
}

/** The heading of a type's group in the list of all materials. */
export function groupTitle(type) {
  return type.groupTitle || type.label;
}

/** A type named in the URL by its code or by its label (in any letter case), as a code. */
export function typeCode(value) {
  if (!value) return null;
  const byLabel = STANDARD_TYPES.find(({ label }) => label.toLowerCase() === value.toLowerCase());
  return byLabel ? byLabel.code : value;
}
