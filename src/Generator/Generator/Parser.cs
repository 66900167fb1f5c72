using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using NetQuantGen.Compiler;
using CompilationOptions = NetQuantGen.Compiler.CompilationOptions;
using NetQuantGen.Diagnostics;

namespace NetQuantGen.Generator
{
    /// <summary>
    /// Reads one <c>[QuantizedModel]</c> use into an equatable <see cref="ModelSpec"/>: the target class,
    /// the paths and every named argument, validated. Symbols and syntax stay inside this step.
    /// </summary>
    internal static class Parser
    {
        public const string AttributeMetadataName = "NetQuantGen.QuantizedModelAttribute";

        /// <summary>The syntax filter: the attribute is only valid on classes (records included, to say they are not supported).</summary>
        public static bool IsCandidate(SyntaxNode node, CancellationToken _) => node is ClassDeclarationSyntax || node is RecordDeclarationSyntax;

        /// <summary>
        /// The spec, or null when the attribute itself does not bind (wrong argument count or type): the C#
        /// compiler already reports that, and a second message would only add noise.
        /// </summary>
        public static ModelSpec? Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
        {
            if (context.TargetSymbol is not INamedTypeSymbol type || context.Attributes.Length == 0) return null;
            var attribute = context.Attributes[0];
            if (attribute.ConstructorArguments.Length != 1 || attribute.ConstructorArguments[0].Kind == TypedConstantKind.Error) return null;

            var syntax = attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken) as AttributeSyntax;
            var attributeLocation = LocationInfo.From(syntax) ?? LocationInfo.From(context.TargetNode);
            var diagnostics = new List<DiagnosticInfo>();

            string? ns = type.ContainingNamespace == null || type.ContainingNamespace.IsGlobalNamespace
                ? null
                : type.ContainingNamespace.ToDisplayString();
            string fullName = ns == null ? type.Name : ns + "." + type.Name;
            string onnxPath = attribute.ConstructorArguments[0].Value as string ?? "";
            string subject = $"[QuantizedModel(\"{onnxPath}\")] on class '{fullName}'";

            CheckTargetClass(type, context.TargetNode, subject, attributeLocation, diagnostics);

            void Invalid(string argument, string message) =>
                diagnostics.Add(new DiagnosticInfo(DiagnosticCatalog.InvalidOption, $"{subject}: {message}",
                    LocationInfo.From(ArgumentSyntax(syntax, argument)) ?? attributeLocation));

            if (string.IsNullOrWhiteSpace(onnxPath))
                Invalid("", "the model path is empty; name the .onnx file, relative to the project (e.g. \"models/model.onnx\").");
            else if (!onnxPath.Trim().EndsWith(AdditionalFileReader.ModelExtension, StringComparison.OrdinalIgnoreCase))
                Invalid("", $"the model path \"{onnxPath}\" does not end in {AdditionalFileReader.ModelExtension}; name the ONNX file (only .onnx files are read).");

            string? calibration = null;
            var options = new CompilationOptions();
            foreach (var pair in attribute.NamedArguments)
            {
                var value = pair.Value;
                if (value.Kind == TypedConstantKind.Error) continue; // the C# compiler reports it
                switch (pair.Key)
                {
                    case "Calibration":
                        calibration = value.Value as string;
                        if (calibration != null && string.IsNullOrWhiteSpace(calibration))
                            Invalid(pair.Key, "Calibration is empty; name the statistics file written by `netquant calibrate`, or leave Calibration out.");
                        else if (calibration != null && !calibration.Trim().EndsWith(AdditionalFileReader.CalibrationExtension, StringComparison.OrdinalIgnoreCase))
                            Invalid(pair.Key, $"Calibration \"{calibration}\" does not end in {AdditionalFileReader.CalibrationExtension}; name the statistics file written by `netquant calibrate` (only .calib files are read).");
                        break;
                    case "InputShape":
                        var shape = value.Value as string;
                        if (shape != null && !IsValidShape(shape))
                            Invalid(pair.Key, $"InputShape \"{shape}\" is not a comma-separated list of positive integers (e.g. \"1,3,224,224\").");
                        options = options with { InputShape = shape };
                        break;
                    case "WeightBits":
                        options = options with { WeightBits = value.Value is int w ? w : 0 };
                        break;
                    case "ActivationBits":
                        options = options with { ActivationBits = value.Value is int a ? a : 0 };
                        break;
                    case "WeightGranularity":
                        if (CheckEnum(value, pair.Key, Invalid, out int granularity))
                            options = options with { WeightGranularity = (WeightGranularityOption)granularity };
                        break;
                    case "ActivationRange":
                        if (CheckEnum(value, pair.Key, Invalid, out int range))
                            options = options with { ActivationRange = (RangeMethodOption)range };
                        break;
                    case "Passes":
                        if (CheckFlags(value, pair.Key, Invalid, out int passes))
                            options = options with { Passes = passes };
                        break;
                    case "MaxTensorMegabytes":
                        int megabytes = value.Value is int mb ? mb : 0;
                        if (megabytes < 1)
                            Invalid(pair.Key, $"MaxTensorMegabytes is {megabytes}; it must be at least 1 (the default is 1024).");
                        options = options with { MaxTensorMegabytes = megabytes };
                        break;
                    case "WeightRange":
                        if (CheckEnum(value, pair.Key, Invalid, out int weightRange))
                            options = options with { WeightRange = (WeightRangeOption)weightRange };
                        break;
                    case "Requantization":
                        if (CheckEnum(value, pair.Key, Invalid, out int requantization))
                            options = options with { Requantization = (RequantizationOption)requantization };
                        break;
                    case "BiasCorrection":
                        if (CheckEnum(value, pair.Key, Invalid, out int biasCorrection))
                            options = options with { BiasCorrection = (BiasCorrectionOption)biasCorrection };
                        break;
                    case "LayerWeightBits":
                        var layerBits = value.Value as string;
                        if (layerBits != null && Quantization.LayerBitWidths.TryParse(layerBits, out _) is string layerProblem)
                            Invalid(pair.Key, $"LayerWeightBits \"{layerBits}\": {layerProblem}");
                        options = options with { LayerWeightBits = layerBits };
                        break;
                    case "LayerActivationBits":
                        var layerActivationBits = value.Value as string;
                        if (layerActivationBits != null && Quantization.LayerBitWidths.TryParseActivations(layerActivationBits, out _) is string activationProblem)
                            Invalid(pair.Key, $"LayerActivationBits \"{layerActivationBits}\": {activationProblem}");
                        options = options with { LayerActivationBits = layerActivationBits };
                        break;
                    case "SizeBudgetKiB":
                        int budget = value.Value is int kib ? kib : -1;
                        if (budget < 0)
                            Invalid(pair.Key, $"SizeBudgetKiB is {budget}; give the weight budget in KiB (0 for none).");
                        options = options with { SizeBudgetKiB = budget };
                        break;
                    case "DataFree":
                        options = options with { DataFree = value.Value is bool dataFree && dataFree };
                        break;
                    case "Percentile":
                        options = options with { Percentile = value.Value is double p ? p : double.NaN };
                        break;
                }
            }

            foreach (var (option, problem) in options.RangeProblems()) Invalid(option, problem);
            return new ModelSpec(
                ns,
                type.Name,
                type.DeclaredAccessibility == Accessibility.Public ? "public" : "internal",
                type.IsStatic,
                NormalizeWrittenPath(onnxPath),
                calibration == null ? null : NormalizeWrittenPath(calibration),
                options,
                attributeLocation,
                new EquatableArray<DiagnosticInfo>(diagnostics));
        }

        /// <summary>A path as the user wrote it, trimmed and with '/' separators: the name messages and the generated header use.</summary>
        public static string NormalizeWrittenPath(string path) => path.Trim().Replace('\\', '/');

        private static void CheckTargetClass(INamedTypeSymbol type, SyntaxNode node, string subject, LocationInfo? location, List<DiagnosticInfo> diagnostics)
        {
            if (type.ContainingType != null)
                diagnostics.Add(new DiagnosticInfo(DiagnosticCatalog.UnsupportedTargetClass,
                    $"{subject}: the class is nested in '{type.ContainingType.ToDisplayString()}'; generated models must be top-level classes, so move it out of the enclosing type.", location));
            if (type.IsGenericType)
                diagnostics.Add(new DiagnosticInfo(DiagnosticCatalog.UnsupportedTargetClass,
                    $"{subject}: the class is generic; generated models must be non-generic classes.", location));
            if (type.IsRecord || node is RecordDeclarationSyntax)
                diagnostics.Add(new DiagnosticInfo(DiagnosticCatalog.UnsupportedTargetClass,
                    $"{subject}: '{type.Name}' is a record; declare it as a (static) partial class.", location));
            if (node is TypeDeclarationSyntax declaration && !declaration.Modifiers.Any(SyntaxKind.PartialKeyword))
                diagnostics.Add(new DiagnosticInfo(DiagnosticCatalog.ClassNotPartial,
                    $"{subject}: the class must be partial so the generated code can complete it; declare it as 'partial class {type.Name}' (e.g. 'public static partial class {type.Name}').", location));
        }

        /// <summary>The rules the compiler applies to InputShape: comma-separated positive integers.</summary>
        public static bool IsValidShape(string text)
        {
            if (string.IsNullOrWhiteSpace(text)) return true; // the compiler reads blank as "not given"
            foreach (var part in text.Split(','))
                if (!int.TryParse(part.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int d) || d <= 0) return false;
            return true;
        }

        /// <summary>An enum argument must be one of the enum's declared values (a cast like (RangeMethod)7 is not).</summary>
        private static bool CheckEnum(TypedConstant value, string name, Action<string, string> invalid, out int result)
        {
            result = ToInt(value.Value);
            var declared = DeclaredValues(value.Type);
            if (declared.Count == 0 || declared.ContainsKey(result)) return true;
            invalid(name, $"{name} is {result}, which is not a value of {value.Type!.Name} ({string.Join(", ", declared.OrderBy(p => p.Key).Select(p => p.Value))}).");
            return false;
        }

        /// <summary>A flags argument may only combine the enum's declared flags.</summary>
        private static bool CheckFlags(TypedConstant value, string name, Action<string, string> invalid, out int result)
        {
            result = ToInt(value.Value);
            var declared = DeclaredValues(value.Type);
            if (declared.Count == 0) return true;
            int known = declared.Keys.Aggregate(0, (all, flag) => all | flag);
            if ((result & ~known) == 0) return true;
            invalid(name, $"{name} is {result}, which sets flags that {value.Type!.Name} does not define (known: {string.Join(", ", declared.Where(p => p.Key != 0).OrderBy(p => p.Key).Select(p => p.Value))}).");
            return false;
        }

        private static Dictionary<int, string> DeclaredValues(ITypeSymbol? type)
        {
            var values = new Dictionary<int, string>();
            if (type is not INamedTypeSymbol { TypeKind: TypeKind.Enum } named) return values;
            foreach (var field in named.GetMembers().OfType<IFieldSymbol>())
                if (field.HasConstantValue && !values.ContainsKey(ToInt(field.ConstantValue)))
                    values[ToInt(field.ConstantValue)] = field.Name;
            return values;
        }

        private static int ToInt(object? value) => value switch
        {
            int i => i,
            null => 0,
            _ => Convert.ToInt32(value, CultureInfo.InvariantCulture),
        };

        /// <summary>The syntax of a named argument (or, for "", the first positional one), for a precise location.</summary>
        private static SyntaxNode? ArgumentSyntax(AttributeSyntax? attribute, string name)
        {
            if (attribute?.ArgumentList == null) return null;
            foreach (var argument in attribute.ArgumentList.Arguments)
            {
                if (name.Length == 0 && argument.NameEquals == null && argument.NameColon == null) return argument;
                if (argument.NameEquals != null && argument.NameEquals.Name.Identifier.ValueText == name) return argument;
            }
            return null;
        }
    }
}
