#!/usr/bin/env bash
# Times `dotnet build` of a fresh project whose only content is ResNet-18 at 1x3x224x224 compiled through the
# generator (the figure the generator issue asks for). The repository's own projects are built first, so the
# timed build is the user's project: the generator run plus the C# compile of the generated code.
# Usage: benchmarks/measure-build-time.sh   (needs samples/models/resnet18.onnx and resnet18_224.calib)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$root/samples/models/resnet18.onnx" "$root/samples/models/resnet18_224.calib" "$work/"
cat > "$work/BuildTime.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><TargetFramework>net10.0</TargetFramework><Nullable>enable</Nullable></PropertyGroup>
  <ItemGroup>
    <ProjectReference Include="$root/src/Generator/NetQuantGen.Generator.csproj" OutputItemType="Analyzer" ReferenceOutputAssembly="false" />
    <ProjectReference Include="$root/src/Attributes/NetQuantGen.Attributes.csproj" />
    <ProjectReference Include="$root/src/Runtime/NetQuantGen.Runtime.csproj" />
    <AdditionalFiles Include="resnet18.onnx;resnet18_224.calib" />
  </ItemGroup>
</Project>
XML
cat > "$work/Model.cs" <<'CS'
[NetQuantGen.QuantizedModel("resnet18.onnx", Calibration = "resnet18_224.calib", InputShape = "1,3,224,224")]
public static partial class ResNet18 { }
CS
dotnet build "$root/src/Runtime" -c Release -nologo -v q >/dev/null
dotnet build "$root/src/Generator" -c Release -nologo -v q >/dev/null
dotnet build "$root/src/Attributes" -c Release -nologo -v q >/dev/null
dotnet restore "$work" -nologo -v q >/dev/null
start=$(date +%s%N)
dotnet build "$work" -c Release -nologo -v q --no-restore -p:BuildProjectReferences=false
end=$(date +%s%N)
size=$(find "$work/bin" -name BuildTime.dll -printf '%s')
echo "ResNet-18 224x224 through the generator: dotnet build $(( (end - start) / 1000000 )) ms, assembly $((size / 1024 / 1024)) MiB"
