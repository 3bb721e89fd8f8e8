using System.Collections.Immutable;
using System.Reflection;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;
using System.Text.RegularExpressions;

namespace Microsoft.ML.DeepClustering.Tests;

/// <summary>
/// The library's namespaces depend on each other one way only (docs/architecture.md, "Dependencies point one way").
/// Read from the compiled library, not from its source text: every type a type of namespace A names — base type,
/// interfaces, generic constraints, field, method, property and local signatures, custom attributes, and every token
/// in its method bodies (calls, field accesses, casts, typeof) — is an arrow from A to that type's namespace. An
/// unqualified use, a use of the root namespace, or one through <c>using static</c> is seen like any other.
/// Compiler-generated types (closures, iterators, async state machines, records' members) are nested in the type
/// they were written in and count as its namespace; the Protobuf-generated ONNX types are in
/// <c>Onnx.Proto</c>, which counts as <c>Onnx</c>.
/// </summary>
public class DependencyDirectionTests
{
    private const string Library = "Microsoft.ML.DeepClustering";

    /// <summary>The public surface: <c>Microsoft.ML.DeepClustering</c> itself.</summary>
    internal const string Root = "(root)";

    /// <summary>
    /// The rules, one row per namespace (the first segment after <c>Microsoft.ML.DeepClustering.</c>): which
    /// namespaces its types may use. A namespace that is not a row fails the test, so a new folder needs a line here.
    /// The root may use everything; a sub-namespace that lists <see cref="Root"/> may use the root's public types
    /// (options, enums), never its internals. Rows for namespaces that do not exist yet are the plan.
    /// </summary>
    internal static readonly IReadOnlyDictionary<string, string[]> MayUse = new Dictionary<string, string[]>
    {
        [Root] = ["Data", "Training", "Seeding", "Graphs", "Networks", "Optimizers", "Model", "Runtime", "Onnx", "Scoring", "Evaluation"],
        ["Data"] = [Root, "Model"],
        ["Training"] = [Root, "Seeding", "Graphs", "Networks", "Optimizers", "Model", "Runtime", "Data", "Evaluation"],
        ["Seeding"] = [Root, "Graphs", "Model", "Runtime"],
        ["Graphs"] = ["Runtime"],
        ["Networks"] = [Root, "Model", "Runtime"],
        ["Optimizers"] = [Root, "Model", "Runtime"],
        ["Model"] = ["Runtime"],
        ["Runtime"] = [],
        ["Onnx"] = ["Model"],
        ["Scoring"] = [Root, "Model", "Onnx"],
        ["Evaluation"] = [],
    };

    [Fact]
    public void EveryArrowInTheLibraryIsAllowed()
    {
        var arrows = LibraryArrows();
        Assert.NotEmpty(arrows);
        var unknown = arrows.Select(a => a.From).Concat(arrows.Select(a => a.To)).Distinct().Where(ns => !MayUse.ContainsKey(ns)).ToList();
        Assert.True(unknown.Count == 0, $"Namespaces with no row in DependencyDirectionTests.MayUse: {string.Join(", ", unknown)}. Add one saying what each may use (docs/architecture.md).");

        var violations = arrows
            .Where(a => a.From != a.To && !MayUse[a.From].Contains(a.To))
            .Select(a => $"{a.From} must not use {a.To}: {a.FromType} uses {a.ToType}")
            .Distinct().Order().ToList();
        Assert.True(violations.Count == 0, $"Arrows against docs/architecture.md (DependencyDirectionTests.MayUse):\n{string.Join("\n", violations)}");
    }

    [Fact]
    public void SubNamespacesUseOnlyTheRootsPublicTypes()
    {
        var violations = LibraryArrows()
            .Where(a => a.From != Root && a.To == Root && !a.ToIsPublic)
            .Select(a => $"{a.FromType} uses the root's internal {a.ToType}")
            .Distinct().Order().ToList();
        Assert.True(violations.Count == 0, $"Sub-namespaces may use the root's public types only (options, enums):\n{string.Join("\n", violations)}");
    }

    /// <summary>
    /// Every type the compiler did not make up is in the library's namespace or below it, so the rules above see it:
    /// a file that declares another namespace would escape them.
    /// </summary>
    [Fact]
    public void EveryTypeIsInTheLibrarysNamespace()
    {
        using var pe = new PEReader(File.OpenRead(typeof(DeepClusterOptions).Assembly.Location));
        var reader = pe.GetMetadataReader();
        var outside = reader.TypeDefinitions.Select(reader.GetTypeDefinition)
            .Where(t => t.GetDeclaringType().IsNil)
            .Select(t => (Namespace: reader.GetString(t.Namespace), Name: reader.GetString(t.Name)))
            // <Module>, <PrivateImplementationDetails>, anonymous types, and the attributes the compiler embeds.
            .Where(t => !t.Name.StartsWith('<') && t.Namespace is not ("Microsoft.CodeAnalysis" or "System.Runtime.CompilerServices"))
            .Where(t => NamespaceKeyOrNull(t.Namespace) is null)
            .Select(t => $"{t.Namespace}.{t.Name}")
            .ToList();
        Assert.True(outside.Count == 0, $"Types outside {Library}: {string.Join(", ", outside)}");
    }

    /// <summary>The table itself allows no cycle between sub-namespaces, so the library, which follows it, has none.</summary>
    [Fact]
    public void TheRulesAllowNoCycleBetweenSubNamespaces()
    {
        Assert.All(MayUse.Values.SelectMany(v => v), used => Assert.True(MayUse.ContainsKey(used), $"MayUse names '{used}', which has no row"));
        Assert.Null(FindCycle(MayUse));
        Assert.Equal(new[] { "A", "B", "A" }, FindCycle(new Dictionary<string, string[]> { ["A"] = ["B"], ["B"] = [Root, "A"], [Root] = ["A"] }));
    }

    /// <summary>
    /// Public types stay in the root namespace, where ML.NET users find them, whichever folder holds their file; every
    /// other type lives in the folder of its namespace.
    /// </summary>
    [Fact]
    public void InternalTypesLiveInTheFolderOfTheirNamespace()
    {
        string source = SourceDirectory();
        var violations = new List<string>();
        foreach (string file in Directory.EnumerateFiles(source, "*.cs", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(source, file);
            var parts = relative.Split(Path.DirectorySeparatorChar);
            if (parts.Any(p => p is "bin" or "obj"))
                continue;
            string folder = parts.Length == 1 ? Root : parts[0];
            string text = File.ReadAllText(file);
            var declared = Regex.Match(text, @"^namespace\s+([\w.]+)\s*;", RegexOptions.Multiline);
            if (!declared.Success)
            {
                violations.Add($"{relative} declares no file-scoped namespace");
                continue;
            }
            string ns = NamespaceKey(declared.Groups[1].Value);
            if (ns == folder)
                continue;
            var nonPublic = Regex.Matches(text, @"^(?!public\b)[\w ]*\b(class|struct|record|enum|interface|delegate)\s+(\w+)", RegexOptions.Multiline)
                .Select(m => m.Groups[2].Value).ToList();
            if (ns != Root)
                violations.Add($"{relative} declares namespace {ns}; files in {folder}/ declare {folder}");
            else if (nonPublic.Count > 0)
                violations.Add($"{relative} puts the non-public {string.Join(", ", nonPublic)} in the root namespace; it belongs to {folder}");
        }
        Assert.True(violations.Count == 0, string.Join("\n", violations));
    }

    /// <summary>An arrow from a type of one namespace to a type of another (or the same).</summary>
    internal sealed record Arrow(string From, string FromType, string To, string ToType, bool ToIsPublic);

    /// <summary>The arrows of the library assembly the tests run against (the one the test project references).</summary>
    internal static IReadOnlyList<Arrow> LibraryArrows() => Arrows(typeof(DeepClusterOptions).Assembly.Location);

    internal static IReadOnlyList<Arrow> Arrows(string assemblyPath)
    {
        using var pe = new PEReader(File.OpenRead(assemblyPath));
        var reader = pe.GetMetadataReader();
        var scanner = new ReferenceScanner(reader, pe);
        var arrows = new HashSet<Arrow>();
        foreach (var handle in reader.TypeDefinitions)
        {
            var (from, fromName, _) = scanner.Describe(handle);
            if (from is null)
                continue;
            foreach (var used in scanner.TypesUsedBy(handle))
            {
                var (to, toName, isPublic) = scanner.Describe(used);
                if (to is not null)
                    arrows.Add(new Arrow(from, fromName, to, toName, isPublic));
            }
        }
        return arrows.ToList();
    }

    /// <summary>"(root)" for the library's namespace, its first segment for a sub-namespace, null outside it.</summary>
    internal static string? NamespaceKeyOrNull(string ns) =>
        ns == Library ? Root
        : ns.StartsWith(Library + ".", StringComparison.Ordinal) ? ns[(Library.Length + 1)..].Split('.')[0]
        : null;

    private static string NamespaceKey(string ns) => NamespaceKeyOrNull(ns) ?? ns;

    /// <summary>A cycle of the table between sub-namespaces (the root left out), as a path that ends where it starts; null if none.</summary>
    internal static string[]? FindCycle(IReadOnlyDictionary<string, string[]> mayUse)
    {
        var state = new Dictionary<string, int>();   // 1: on the path, 2: done
        var path = new List<string>();
        string[]? Visit(string node)
        {
            state[node] = 1;
            path.Add(node);
            foreach (string next in mayUse.GetValueOrDefault(node, []).Where(n => n != Root))
            {
                if (state.GetValueOrDefault(next) == 1)
                    return [.. path.Skip(path.IndexOf(next)), next];
                if (state.GetValueOrDefault(next) == 0 && Visit(next) is { } cycle)
                    return cycle;
            }
            path.RemoveAt(path.Count - 1);
            state[node] = 2;
            return null;
        }
        foreach (string node in mayUse.Keys.Where(n => n != Root).Order())
            if (state.GetValueOrDefault(node) == 0 && Visit(node) is { } found)
                return found;
        return null;
    }

    /// <summary>src/Microsoft.ML.DeepClustering, found by walking up from the test assembly to the repository root.</summary>
    private static string SourceDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "DeepClustering.sln")))
                return Path.Combine(dir.FullName, "src", Library);
        }
        throw new DirectoryNotFoundException($"No DeepClustering.sln above {AppContext.BaseDirectory}: the test reads the library's source files from the repository.");
    }

    /// <summary>Finds the types of this assembly that a type definition refers to, by reading its metadata and IL.</summary>
    private sealed class ReferenceScanner(MetadataReader reader, PEReader pe)
    {
        private static readonly Dictionary<short, OperandType> Operands = typeof(OpCodes)
            .GetFields(BindingFlags.Public | BindingFlags.Static)
            .Select(f => (OpCode)f.GetValue(null)!)
            .ToDictionary(o => o.Value, o => o.OperandType);

        private readonly TypesInSignatures provider = new(reader);

        /// <summary>The namespace key (null outside the library), the readable name, and whether the type is visible outside the assembly.</summary>
        public (string? Namespace, string Name, bool IsPublic) Describe(TypeDefinitionHandle handle)
        {
            var type = reader.GetTypeDefinition(handle);
            string name = reader.GetString(type.Name);
            bool isPublic = IsVisible(type.Attributes);
            var outer = type;
            while (outer.GetDeclaringType() is { IsNil: false } declaring)
            {
                outer = reader.GetTypeDefinition(declaring);
                name = reader.GetString(outer.Name) + "." + name;
                isPublic &= IsVisible(outer.Attributes);
            }
            string? ns = NamespaceKeyOrNull(reader.GetString(outer.Namespace));
            return (ns, ns is null ? name : $"{ns}.{name}", isPublic);
        }

        private static bool IsVisible(TypeAttributes attributes) =>
            (attributes & TypeAttributes.VisibilityMask) is TypeAttributes.Public or TypeAttributes.NestedPublic;

        public HashSet<TypeDefinitionHandle> TypesUsedBy(TypeDefinitionHandle handle)
        {
            var found = new HashSet<TypeDefinitionHandle>();
            var type = reader.GetTypeDefinition(handle);
            Add(type.BaseType, found);
            foreach (var i in type.GetInterfaceImplementations())
                Add(reader.GetInterfaceImplementation(i).Interface, found);
            AddAttributes(type.GetCustomAttributes(), found);
            AddConstraints(type.GetGenericParameters(), found);
            foreach (var f in type.GetFields())
            {
                var field = reader.GetFieldDefinition(f);
                found.UnionWith(field.DecodeSignature(provider, null));
                AddAttributes(field.GetCustomAttributes(), found);
            }
            foreach (var p in type.GetProperties())
            {
                var property = reader.GetPropertyDefinition(p);
                AddSignature(property.DecodeSignature(provider, null), found);
                AddAttributes(property.GetCustomAttributes(), found);
            }
            foreach (var e in type.GetEvents())
                Add(reader.GetEventDefinition(e).Type, found);
            foreach (var m in type.GetMethods())
            {
                var method = reader.GetMethodDefinition(m);
                AddSignature(method.DecodeSignature(provider, null), found);
                AddAttributes(method.GetCustomAttributes(), found);
                foreach (var p in method.GetParameters())
                    AddAttributes(reader.GetParameter(p).GetCustomAttributes(), found);
                AddConstraints(method.GetGenericParameters(), found);
                if (method.RelativeVirtualAddress != 0)
                    AddBody(pe.GetMethodBody(method.RelativeVirtualAddress), found);
            }
            foreach (var i in type.GetMethodImplementations())
                Add(reader.GetMethodImplementation(i).MethodDeclaration, found);
            return found;
        }

        private void AddAttributes(CustomAttributeHandleCollection attributes, HashSet<TypeDefinitionHandle> found)
        {
            foreach (var a in attributes)
                Add(reader.GetCustomAttribute(a).Constructor, found);
        }

        private void AddConstraints(GenericParameterHandleCollection parameters, HashSet<TypeDefinitionHandle> found)
        {
            foreach (var p in parameters)
                foreach (var c in reader.GetGenericParameter(p).GetConstraints())
                    Add(reader.GetGenericParameterConstraint(c).Type, found);
        }

        private static void AddSignature(MethodSignature<ImmutableArray<TypeDefinitionHandle>> signature, HashSet<TypeDefinitionHandle> found)
        {
            found.UnionWith(signature.ReturnType);
            foreach (var p in signature.ParameterTypes)
                found.UnionWith(p);
        }

        private void AddBody(MethodBodyBlock body, HashSet<TypeDefinitionHandle> found)
        {
            if (!body.LocalSignature.IsNil)
                foreach (var local in reader.GetStandaloneSignature(body.LocalSignature).DecodeLocalSignature(provider, null))
                    found.UnionWith(local);
            foreach (var region in body.ExceptionRegions)
                Add(region.CatchType, found);
            var il = body.GetILReader();
            while (il.RemainingBytes > 0)
            {
                byte first = il.ReadByte();
                short code = first == 0xFE ? unchecked((short)(0xFE00 | il.ReadByte())) : first;
                switch (Operands[code])
                {
                    case OperandType.InlineField or OperandType.InlineMethod or OperandType.InlineTok or OperandType.InlineType or OperandType.InlineSig:
                        Add(MetadataTokens.EntityHandle(il.ReadInt32()), found);
                        break;
                    case OperandType.InlineSwitch:
                        il.Offset += 4 * il.ReadInt32();
                        break;
                    case OperandType.InlineI8 or OperandType.InlineR:
                        il.Offset += 8;
                        break;
                    case OperandType.InlineBrTarget or OperandType.InlineI or OperandType.InlineString or OperandType.ShortInlineR:
                        il.Offset += 4;
                        break;
                    case OperandType.InlineVar:
                        il.Offset += 2;
                        break;
                    case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar:
                        il.Offset += 1;
                        break;
                }
            }
        }

        /// <summary>The types of this assembly that a metadata token names: the type itself, or a member's declaring type and signature.</summary>
        private void Add(EntityHandle handle, HashSet<TypeDefinitionHandle> found)
        {
            if (handle.IsNil)
                return;
            switch (handle.Kind)
            {
                case HandleKind.TypeDefinition:
                    found.Add((TypeDefinitionHandle)handle);
                    break;
                case HandleKind.TypeSpecification:
                    found.UnionWith(reader.GetTypeSpecification((TypeSpecificationHandle)handle).DecodeSignature(provider, null));
                    break;
                case HandleKind.FieldDefinition:
                    var field = reader.GetFieldDefinition((FieldDefinitionHandle)handle);
                    found.Add(field.GetDeclaringType());
                    found.UnionWith(field.DecodeSignature(provider, null));
                    break;
                case HandleKind.MethodDefinition:
                    var method = reader.GetMethodDefinition((MethodDefinitionHandle)handle);
                    found.Add(method.GetDeclaringType());
                    AddSignature(method.DecodeSignature(provider, null), found);
                    break;
                case HandleKind.MemberReference:
                    var member = reader.GetMemberReference((MemberReferenceHandle)handle);
                    Add(member.Parent, found);
                    if (member.GetKind() == MemberReferenceKind.Method)
                        AddSignature(member.DecodeMethodSignature(provider, null), found);
                    else
                        found.UnionWith(member.DecodeFieldSignature(provider, null));
                    break;
                case HandleKind.MethodSpecification:
                    var specification = reader.GetMethodSpecification((MethodSpecificationHandle)handle);
                    Add(specification.Method, found);
                    foreach (var argument in specification.DecodeSignature(provider, null))
                        found.UnionWith(argument);
                    break;
                case HandleKind.StandaloneSignature:
                    var standalone = reader.GetStandaloneSignature((StandaloneSignatureHandle)handle);
                    if (standalone.GetKind() == StandaloneSignatureKind.Method)
                        AddSignature(standalone.DecodeMethodSignature(provider, null), found);
                    else
                        foreach (var local in standalone.DecodeLocalSignature(provider, null))
                            found.UnionWith(local);
                    break;
                // TypeReference (another assembly's type), ModuleReference: nothing of this library.
            }
        }
    }

    /// <summary>Every type definition of this assembly that appears in a signature (generic arguments, arrays, pointers included).</summary>
    private sealed class TypesInSignatures(MetadataReader reader) : ISignatureTypeProvider<ImmutableArray<TypeDefinitionHandle>, object?>
    {
        private static readonly ImmutableArray<TypeDefinitionHandle> None = [];

        public ImmutableArray<TypeDefinitionHandle> GetTypeFromDefinition(MetadataReader r, TypeDefinitionHandle handle, byte rawTypeKind) => [handle];
        public ImmutableArray<TypeDefinitionHandle> GetTypeFromReference(MetadataReader r, TypeReferenceHandle handle, byte rawTypeKind) => None;
        public ImmutableArray<TypeDefinitionHandle> GetTypeFromSpecification(MetadataReader r, object? context, TypeSpecificationHandle handle, byte rawTypeKind) =>
            reader.GetTypeSpecification(handle).DecodeSignature(this, context);
        public ImmutableArray<TypeDefinitionHandle> GetPrimitiveType(PrimitiveTypeCode typeCode) => None;
        public ImmutableArray<TypeDefinitionHandle> GetGenericMethodParameter(object? context, int index) => None;
        public ImmutableArray<TypeDefinitionHandle> GetGenericTypeParameter(object? context, int index) => None;
        public ImmutableArray<TypeDefinitionHandle> GetSZArrayType(ImmutableArray<TypeDefinitionHandle> elementType) => elementType;
        public ImmutableArray<TypeDefinitionHandle> GetArrayType(ImmutableArray<TypeDefinitionHandle> elementType, ArrayShape shape) => elementType;
        public ImmutableArray<TypeDefinitionHandle> GetByReferenceType(ImmutableArray<TypeDefinitionHandle> elementType) => elementType;
        public ImmutableArray<TypeDefinitionHandle> GetPointerType(ImmutableArray<TypeDefinitionHandle> elementType) => elementType;
        public ImmutableArray<TypeDefinitionHandle> GetPinnedType(ImmutableArray<TypeDefinitionHandle> elementType) => elementType;
        public ImmutableArray<TypeDefinitionHandle> GetModifiedType(ImmutableArray<TypeDefinitionHandle> modifier, ImmutableArray<TypeDefinitionHandle> unmodifiedType, bool isRequired) =>
            [.. modifier, .. unmodifiedType];
        public ImmutableArray<TypeDefinitionHandle> GetGenericInstantiation(ImmutableArray<TypeDefinitionHandle> genericType, ImmutableArray<ImmutableArray<TypeDefinitionHandle>> typeArguments) =>
            [.. genericType, .. typeArguments.SelectMany(a => a)];
        public ImmutableArray<TypeDefinitionHandle> GetFunctionPointerType(MethodSignature<ImmutableArray<TypeDefinitionHandle>> signature) =>
            [.. signature.ReturnType, .. signature.ParameterTypes.SelectMany(p => p)];
    }
}
