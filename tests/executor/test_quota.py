"""Reading vCPU usages in both spellings Azure uses, and a cluster's maximum against the free
quota its family and tier share with the run's other clusters (aml_bridge.admin.quota, pure)."""

from aml_bridge.admin.quota import (
    DEDICATED,
    LOW_PRIORITY,
    TOTAL,
    ClusterQuotaNeed,
    quota_rows,
    read_usages,
    usage_key,
)

VM_FAMILY = "Microsoft.MachineLearningServices/vmFamily/usages"


def test_usage_names_of_the_rest_example_and_of_the_family_spelling_read_alike():
    spec_name = "Standard DSv3 Family Cluster Dedicated vCPUs"
    assert usage_key(spec_name, VM_FAMILY) == (DEDICATED, "standarddsv3family")
    wild = "Microsoft.MachineLearningServices/vmFamily/lowPriorityCores/usages"
    assert usage_key("standardDSv3Family", wild) == (LOW_PRIORITY, "standarddsv3family")
    total = "Microsoft.MachineLearningServices/dedicatedCores/usages"
    assert usage_key("Total Cluster Dedicated Regional vCPUs", total) == (DEDICATED, TOTAL)
    assert usage_key("Clusters", "Microsoft.MachineLearningServices/totalCores/usages") is None


def test_a_workspaces_share_does_not_stand_in_for_the_subscriptions():
    name = "Standard DSv3 Family Cluster Dedicated vCPUs"
    entries = [
        (name, "Microsoft.MachineLearningServices/workspaces/usages", 2, 24),
        (name, VM_FAMILY, 10, 24),
    ]
    assert read_usages(entries)[(DEDICATED, "standarddsv3family")].current == 10


def _need(name: str, max_nodes: int, tier: str = DEDICATED) -> ClusterQuotaNeed:
    return ClusterQuotaNeed(name, "standard_d8s_v3", "standardDSv3Family", 8, max_nodes, tier)


def test_clusters_of_one_family_add_up_their_maxima_against_its_free_quota():
    usages = read_usages([("Standard DSv3 Family Cluster Dedicated vCPUs", VM_FAMILY, 8, 48)])
    alone = quota_rows([_need("a", 4)], usages, "westeurope")
    assert alone[0].ok and "32 vCPUs at max nodes, 40 free (48 − 8 in use)" in alone[0].detail
    both = quota_rows([_need("a", 4), _need("b", 2)], usages, "westeurope")
    assert [r.ok for r in both] == [False, False]  # 48 wanted, 40 free
    assert "with b" in both[0].detail and "a fits 3 of its 4 nodes" in both[0].detail
    assert "quota increase" in both[0].fix and "--max-instances" in both[0].fix
    assert "region westeurope" in both[0].fix


def test_low_priority_families_have_no_limit_of_their_own_the_regional_total_counts():
    usages = read_usages([
        ("Standard DSv3 Family Cluster LowPriority vCPUs", VM_FAMILY, 0, -1),
        ("Total Cluster LowPriority Regional vCPUs",
         "Microsoft.MachineLearningServices/lowPriorityCores/usages", 0, 16),
    ])  # fmt: skip
    (row,) = quota_rows([_need("spot", 4, LOW_PRIORITY)], usages, "eastus")
    assert not row.ok and "Total Cluster LowPriority Regional vCPUs: 32" in row.detail
    (dedicated,) = quota_rows([_need("d", 4)], usages, "eastus")
    assert dedicated.ok and "no vCPU limit listed" in dedicated.detail
