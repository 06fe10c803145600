// kubecheck decodes every object of a rendered chart strictly into its Kubernetes Go type.
//
//	helm template ... | kubecheck
//
// Each YAML document goes through apimachinery's serializer with Strict on, over a scheme of the
// k8s.io/api groups the chart uses and the Prometheus Operator's monitoring/v1: an unknown or
// misspelled field, a duplicate key, a wrong type or a kind the scheme does not know fails, naming
// the template it came from. On success it prints one line per object: kind, name.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
)

var source = regexp.MustCompile(`(?m)^# Source: (.+)$`)

func scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		appsv1.AddToScheme, autoscalingv2.AddToScheme, batchv1.AddToScheme, corev1.AddToScheme,
		networkingv1.AddToScheme, policyv1.AddToScheme, rbacv1.AddToScheme, monitoringv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func main() {
	s, err := scheme()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubecheck:", err)
		os.Exit(2)
	}
	decoder := json.NewSerializerWithOptions(json.DefaultMetaFactory, s, s, json.SerializerOptions{Yaml: true, Strict: true})
	input, err := io.ReadAll(bufio.NewReader(os.Stdin))
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubecheck:", err)
		os.Exit(2)
	}
	failed, decoded := 0, 0
	for _, document := range strings.Split("\n"+string(input), "\n---") {
		where := "?"
		if found := source.FindStringSubmatch(document); found != nil {
			where = found[1]
		}
		if strings.TrimSpace(stripComments(document)) == "" {
			continue
		}
		object, kind, err := decoder.Decode([]byte(document), nil, nil)
		if err != nil {
			fmt.Fprintf(os.Stderr, "kubecheck: %s: %v\n", where, err)
			failed++
			continue
		}
		name := ""
		if accessor, ok := object.(metav1.Object); ok {
			name = accessor.GetName()
		}
		fmt.Printf("%s %s\n", kind.Kind, name)
		decoded++
	}
	if failed > 0 || decoded == 0 {
		fmt.Fprintf(os.Stderr, "kubecheck: %d of %d objects failed\n", failed, failed+decoded)
		os.Exit(1)
	}
}

func stripComments(document string) string {
	var kept []string
	for _, line := range strings.Split(document, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			kept = append(kept, line)
		}
	}
	return strings.Join(kept, "\n")
}
