//! `#[derive(Module)]`: writes a model's `Module` plumbing from its struct's fields, the way
//! PyTorch registers submodules and parameters when they are assigned in `__init__`.
//!
//! Each field is sorted by its type, as written:
//! - `Tensor` is a parameter, and `Option<Tensor>` one that may be absent; `Vec<Tensor>` is
//!   a list of parameters named `field.0`, `field.1`, ... (PyTorch's `ParameterList`);
//! - with `#[module(buffer)]`, a `Tensor` or `Option<Tensor>` is a buffer instead;
//! - `training: bool` is the module's own training flag;
//! - a `ForwardHooks` field holds the model's forward hooks, so that
//!   `model.register_forward_hook(...)` works on it (without one, registering panics);
//! - numbers, `bool`, `char`, `String` and `PhantomData` are settings and are skipped, as is
//!   any field marked `#[module(skip)]`;
//! - everything else is a child module: `Option<M>` is a child that may be absent, and
//!   `Vec<M>` a list of children (`field.0.weight`, PyTorch's `ModuleList`).
//!
//! From that it writes `own_parameters`, `own_buffers`, `named_children(_mut)`, the training
//! switch (when there is a `training` field), `type_name`, and `Display` (PyTorch's printed
//! form). `forward` stays the model's own: write it as an inherent method,
//! `impl Block { fn forward(&self, x: &Tensor) -> Tensor { ... } }`, and the derived
//! `Module::forward` calls it. Everything else (`named_parameters`, `state_dict` in
//! PyTorch's order, strict `load_state_dict`, `train`/`eval`) comes from `Module`'s defaults
//! built on those methods.
//!
//! Generated code names the trait through `::kindling::nn`; `#[module(crate = "path")]` on
//! the struct changes that (kindling's own crates use it).

#![warn(missing_docs)]

use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use quote::{format_ident, quote};
use syn::{parse_macro_input, Data, DeriveInput, Fields, GenericArgument, PathArguments, Type};

/// How one field takes part in the module.
enum Role {
    Parameter,
    OptionalParameter,
    ParameterList,
    Buffer,
    OptionalBuffer,
    TrainingFlag,
    Hooks,
    Child,
    OptionalChild,
    Skip,
}

/// See the crate documentation.
#[proc_macro_derive(Module, attributes(module))]
pub fn derive_module(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// The last segment of a type path (`Tensor` for `kindling::Tensor`), and its single
/// generic argument if it has one (`M` for `Option<M>`).
fn last_segment(ty: &Type) -> Option<(String, Option<&Type>)> {
    let Type::Path(path) = ty else { return None };
    let seg = path.path.segments.last()?;
    let arg = match &seg.arguments {
        PathArguments::AngleBracketed(args) => args.args.iter().find_map(|a| match a {
            GenericArgument::Type(t) => Some(t),
            _ => None,
        }),
        _ => None,
    };
    Some((seg.ident.to_string(), arg))
}

fn is_named(ty: &Type, name: &str) -> bool {
    last_segment(ty).is_some_and(|(n, _)| n == name)
}

/// Scalar settings that are never modules.
fn is_setting(ty: &Type) -> bool {
    const SETTINGS: &[&str] = &[
        "bool",
        "char",
        "String",
        "str",
        "f32",
        "f64",
        "u8",
        "u16",
        "u32",
        "u64",
        "u128",
        "usize",
        "i8",
        "i16",
        "i32",
        "i64",
        "i128",
        "isize",
        "PhantomData",
    ];
    match ty {
        Type::Reference(r) => is_setting(&r.elem),
        _ => last_segment(ty).is_some_and(|(n, _)| SETTINGS.contains(&n.as_str())),
    }
}

/// The `#[module(...)]` words on a field: `skip`, `buffer`, `param`.
fn field_words(attrs: &[syn::Attribute]) -> syn::Result<Vec<String>> {
    let mut words = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("module")) {
        attr.parse_nested_meta(|meta| {
            let word = meta
                .path
                .get_ident()
                .map(|i| i.to_string())
                .unwrap_or_default();
            match word.as_str() {
                "skip" | "buffer" | "param" => {
                    words.push(word);
                    Ok(())
                }
                _ => Err(meta.error("expected `skip`, `buffer` or `param`")),
            }
        })?;
    }
    Ok(words)
}

fn role(name: &str, ty: &Type, words: &[String]) -> Role {
    let has = |w: &str| words.iter().any(|x| x == w);
    if has("skip") {
        return Role::Skip;
    }
    let inner = last_segment(ty).and_then(|(_, arg)| arg);
    let option_of_tensor = is_named(ty, "Option") && inner.is_some_and(|t| is_named(t, "Tensor"));
    if has("buffer") {
        return if option_of_tensor {
            Role::OptionalBuffer
        } else {
            Role::Buffer
        };
    }
    if is_named(ty, "Tensor") {
        return Role::Parameter;
    }
    if option_of_tensor {
        return Role::OptionalParameter;
    }
    if is_named(ty, "Vec") && inner.is_some_and(|t| is_named(t, "Tensor")) {
        return Role::ParameterList;
    }
    if is_named(ty, "ForwardHooks") {
        return Role::Hooks;
    }
    if name == "training" && is_named(ty, "bool") {
        return Role::TrainingFlag;
    }
    if is_setting(ty) {
        return Role::Skip;
    }
    if is_named(ty, "Option") {
        return Role::OptionalChild;
    }
    Role::Child
}

/// The path given by `#[module(crate = "...")]`, or `::kindling::nn`.
fn crate_path(input: &DeriveInput) -> syn::Result<Tokens> {
    let mut path: Tokens = quote!(::kindling::nn);
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("module")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                let lit: syn::LitStr = meta.value()?.parse()?;
                let given: syn::Path = lit.parse()?;
                path = quote!(#given);
                Ok(())
            } else {
                Err(meta.error("expected `crate = \"path\"`"))
            }
        })?;
    }
    Ok(path)
}

fn expand(input: &DeriveInput) -> syn::Result<Tokens> {
    let krate = crate_path(input)?;
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            name,
            "#[derive(Module)] works on structs (a model's layers are its fields)",
        ));
    };
    let fields: Vec<(Tokens, String, &Type, &[syn::Attribute])> = match &data.fields {
        Fields::Named(f) => f
            .named
            .iter()
            .map(|f| {
                let ident = f.ident.as_ref().expect("named field");
                (quote!(#ident), ident.to_string(), &f.ty, &f.attrs[..])
            })
            .collect(),
        Fields::Unnamed(f) => f
            .unnamed
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let index = syn::Index::from(i);
                (quote!(#index), i.to_string(), &f.ty, &f.attrs[..])
            })
            .collect(),
        Fields::Unit => Vec::new(),
    };

    let tensor = quote!(#krate::__private::Tensor);
    let (mut params, mut buffers, mut children, mut children_mut) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut training_flag = None;
    let mut hooks_field = None;
    for (access, key, ty, attrs) in &fields {
        let words = field_words(attrs)?;
        match role(key, ty, &words) {
            Role::Parameter => params.push(quote! {
                out.push((#key.to_string(), self.#access.clone()));
            }),
            Role::OptionalParameter => params.push(quote! {
                if let Some(t) = &self.#access { out.push((#key.to_string(), t.clone())); }
            }),
            Role::ParameterList => params.push(quote! {
                for (i, t) in self.#access.iter().enumerate() {
                    out.push((format!("{}.{}", #key, i), t.clone()));
                }
            }),
            Role::Buffer => buffers.push(quote! {
                out.push((#key.to_string(), self.#access.clone()));
            }),
            Role::OptionalBuffer => buffers.push(quote! {
                if let Some(t) = &self.#access { out.push((#key.to_string(), t.clone())); }
            }),
            Role::TrainingFlag => training_flag = Some(access.clone()),
            Role::Hooks => hooks_field = Some(access.clone()),
            Role::Child => {
                children.push(quote! {
                    out.push((#key.to_string(), &self.#access as &dyn #krate::Module));
                });
                children_mut.push(quote! {
                    out.push((#key.to_string(), &mut self.#access as &mut dyn #krate::Module));
                });
            }
            Role::OptionalChild => {
                children.push(quote! {
                    if let Some(m) = &self.#access { out.push((#key.to_string(), m as &dyn #krate::Module)); }
                });
                children_mut.push(quote! {
                    if let Some(m) = &mut self.#access { out.push((#key.to_string(), m as &mut dyn #krate::Module)); }
                });
            }
            Role::Skip => {}
        }
    }

    let training = training_flag.map(|flag| {
        quote! {
            fn set_training(&mut self, on: bool) {
                self.#flag = on;
                for (_, child) in #krate::Module::named_children_mut(self) {
                    child.set_training(on);
                }
            }
            fn is_training(&self) -> bool {
                self.#flag
            }
        }
    });
    let hooks = hooks_field.map(|field| {
        quote! {
            fn forward_hooks(&self) -> ::std::option::Option<&#krate::ForwardHooks> {
                ::std::option::Option::Some(&self.#field)
            }
        }
    });
    let type_name = name.to_string();
    let out_var = format_ident!("out");
    Ok(quote! {
        impl #impl_generics #krate::Module for #name #ty_generics #where_clause {
            fn forward(&self, x: &#tensor) -> #tensor {
                // The model's inherent `forward` (write one: `impl Model { fn forward ... }`).
                <#name #ty_generics>::forward(self, x)
            }
            fn own_parameters(&self) -> ::std::vec::Vec<(::std::string::String, #tensor)> {
                let mut #out_var = ::std::vec::Vec::new();
                #(#params)*
                #out_var
            }
            fn own_buffers(&self) -> ::std::vec::Vec<(::std::string::String, #tensor)> {
                let mut #out_var = ::std::vec::Vec::new();
                #(#buffers)*
                #out_var
            }
            fn named_children(&self) -> ::std::vec::Vec<(::std::string::String, &dyn #krate::Module)> {
                let mut #out_var: ::std::vec::Vec<(::std::string::String, &dyn #krate::Module)> = ::std::vec::Vec::new();
                #(#children)*
                #out_var
            }
            fn named_children_mut(&mut self) -> ::std::vec::Vec<(::std::string::String, &mut dyn #krate::Module)> {
                let mut #out_var: ::std::vec::Vec<(::std::string::String, &mut dyn #krate::Module)> = ::std::vec::Vec::new();
                #(#children_mut)*
                #out_var
            }
            #training
            #hooks
            fn type_name(&self) -> ::std::string::String {
                #type_name.to_string()
            }
        }

        impl #impl_generics ::std::fmt::Display for #name #ty_generics #where_clause {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&#krate::repr(self))
            }
        }
    })
}
