//! Compiles `ui/app.slint` with its translations: every `@tr("...")` string of the `.slint`
//! files is looked up in the gettext catalogues `lang/<language>/LC_MESSAGES/sumi-desktop.po`,
//! which are bundled into the binary (no files at run time; the app picks the language with
//! `slint::select_bundled_translation`). Strings carry no translation context, so one English
//! msgid has one translation wherever it is used. Debug info (element ids) is kept so the headless
//! UI tests can find elements; it costs nothing at run time worth measuring.
fn main() {
    let config = slint_build::CompilerConfiguration::new()
        .with_style("fluent".into())
        .with_bundled_translations("lang")
        .with_default_translation_context(slint_build::DefaultTranslationContext::None)
        .with_debug_info(true);
    slint_build::compile_with_config("ui/app.slint", config).expect("ui/app.slint compiles");
}
